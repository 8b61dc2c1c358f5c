// The OpenAI Node SDK against a running llmctl serve of the scripted model (make_scripted_model.py):
// models, completions, chat, streaming, tools, reasoning and errors, as an application would use them.
//   node openai_sdk.cjs URL API_KEY SCRIPT_JSON    (NODE_PATH holds node_modules/openai)
'use strict';
const assert = require('node:assert/strict');
const fs = require('node:fs');
const { OpenAI } = require('openai');

const [url, apiKey, scriptFile] = process.argv.slice(2);
const script = JSON.parse(fs.readFileSync(scriptFile, 'utf8')).script;
const client = new OpenAI({ baseURL: `${url}/v1`, apiKey, maxRetries: 0 });
const tools = [{ type: 'function', function: { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } } }];
const messages = [{ role: 'user', content: 'What is the weather in Paris?' }];

const checks = [];
const check = (name, body) => checks.push([name, body]);

check('models.list', async () => {
  const models = [];
  for await (const model of client.models.list()) models.push(model.id);
  assert.deepEqual(models, ['scripted', 'other-name']);
  const one = await client.models.retrieve?.('scripted').catch((e) => e);
  assert.ok(one);  // vLLM has no GET /v1/models/{id}: a 404 error object is as good as a card
});

check('completions', async () => {
  const r = await client.completions.create({ model: 'scripted', prompt: 'Hi', max_tokens: 4 });
  assert.equal(r.object, 'text_completion');
  assert.equal(r.choices[0].text, script.slice(0, 4).join(''));
  assert.equal(r.choices[0].finish_reason, 'length');
  assert.equal(r.usage.completion_tokens, 4);
});

check('completions, streamed', async () => {
  const stream = await client.completions.create({ model: 'scripted', prompt: 'Hi', max_tokens: 50, stream: true, stream_options: { include_usage: true } });
  let text = '', finish = null, usage = null;
  for await (const chunk of stream) {
    for (const c of chunk.choices) { text += c.text; finish = c.finish_reason ?? finish; }
    if (chunk.usage) usage = chunk.usage;
  }
  assert.equal(text, script.join(''));
  assert.equal(finish, 'stop');
  assert.equal(usage.completion_tokens, script.length + 1);  // the script, then its end-of-sequence token
});

check('chat, tools and reasoning', async () => {
  const r = await client.chat.completions.create({ model: 'scripted', messages, tools });
  const m = r.choices[0].message;
  assert.equal(r.object, 'chat.completion');
  assert.equal(m.role, 'assistant');
  assert.equal(m.reasoning_content.trim(), 'The user wants the weather in Paris.');
  assert.equal(m.content.trim(), 'Let me check. Grüße 👋');
  assert.equal(m.tool_calls.length, 1);
  assert.equal(m.tool_calls[0].type, 'function');
  assert.match(m.tool_calls[0].id, /^chatcmpl-tool-/);
  assert.equal(m.tool_calls[0].function.name, 'get_weather');
  assert.deepEqual(JSON.parse(m.tool_calls[0].function.arguments), { city: 'Paris', unit: 'celsius' });
  assert.equal(r.choices[0].finish_reason, 'tool_calls');
});

check('chat, tools and reasoning, streamed', async () => {
  const whole = (await client.chat.completions.create({ model: 'scripted', messages, tools })).choices[0].message;
  const stream = await client.chat.completions.create({ model: 'scripted', messages, tools, stream: true });
  let reasoning = '', content = '', finish = null, role = null;
  const calls = [];
  for await (const chunk of stream) {
    const c = chunk.choices[0];
    if (!c) continue;
    role = role ?? c.delta.role;
    reasoning += c.delta.reasoning_content ?? '';
    content += c.delta.content ?? '';
    for (const t of c.delta.tool_calls ?? []) {
      calls[t.index] ??= { id: t.id, name: '', arguments: '' };
      calls[t.index].name += t.function?.name ?? '';
      calls[t.index].arguments += t.function?.arguments ?? '';
    }
    finish = c.finish_reason ?? finish;
  }
  assert.equal(role, 'assistant');
  assert.equal(reasoning, whole.reasoning_content);
  assert.equal(content, whole.content ?? '');
  assert.equal(calls.length, 1);
  assert.equal(calls[0].name, 'get_weather');
  assert.equal(calls[0].arguments, whole.tool_calls[0].function.arguments);
  assert.equal(finish, 'tool_calls');
});

check('chat, n=2 and logprobs', async () => {
  const r = await client.chat.completions.create({ model: 'scripted', messages: [{ role: 'user', content: 'Hi' }], n: 2, max_completion_tokens: 2, logprobs: true, top_logprobs: 3 });
  assert.equal(r.choices.length, 2);
  for (const c of r.choices) {
    assert.equal(c.finish_reason, 'length');
    assert.equal(c.logprobs.content.length, 2);
    assert.equal(c.logprobs.content[0].token, script[0]);
    assert.deepEqual(c.logprobs.content[0].bytes, [...Buffer.from(script[0], 'utf8')]);
    assert.equal(c.logprobs.content[0].top_logprobs.length, 3);
  }
});

// Errors arrive as the SDK's typed exceptions, with the server's message.
const rejects = async (promise, type, status, fragment) => {
  const error = await promise.then(() => null, (e) => e);
  assert.ok(error instanceof type, `expected ${type.name}, got ${error}`);
  assert.equal(error.status, status);
  assert.ok(String(error.message).includes(fragment), `'${error.message}' lacks '${fragment}'`);
};
check('errors', async () => {
  await rejects(client.completions.create({ model: 'nope', prompt: 'Hi' }), OpenAI.NotFoundError, 404, 'does not exist');
  await rejects(client.completions.create({ model: 'scripted', prompt: 'Hi', temperature: -1 }), OpenAI.BadRequestError, 400, 'temperature');
  await rejects(client.chat.completions.create({ model: 'scripted', messages, max_tokens: 5000 }), OpenAI.BadRequestError, 400, 'maximum context length');
  const stranger = new OpenAI({ baseURL: `${url}/v1`, apiKey: 'wrong', maxRetries: 0 });
  await rejects(stranger.models.list(), OpenAI.AuthenticationError, 401, '401');
});

(async () => {
  let failed = 0;
  for (const [name, body] of checks) {
    try {
      await body();
      console.log(`ok ${name}`);
    } catch (e) {
      failed++;
      console.log(`FAIL ${name}: ${e.stack ?? e}`);
    }
  }
  process.exit(failed ? 1 : 0);
})();
