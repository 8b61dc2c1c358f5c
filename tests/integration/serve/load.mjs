// A bounded load test of llmctl serve with the scripted model (make_scripted_model.py): CLIENTS
// concurrent clients send REQUESTS requests in all (completions and chat, streamed and not, varied
// max_tokens), and every answer must be complete and well-formed, with the right token count and finish
// reason; completions must be exactly the script's prefix (chat text goes through the reasoning parser).
//   node load.mjs URL API_KEY SCRIPT_JSON CLIENTS REQUESTS
import { readFileSync } from 'node:fs';

const [url, apiKey, scriptFile, clients, total] = process.argv.slice(2);
const script = JSON.parse(readFileSync(scriptFile, 'utf8')).script;
const headers = { 'Content-Type': 'application/json', Authorization: `Bearer ${apiKey}` };

// The text, token count and finish reason the scripted model must give for max_tokens k: the script,
// then its end-of-sequence token; the length limit wins when it falls on that token too, as in vLLM.
const expected = (k) => (k <= script.length + 1 ? [script.slice(0, k).join(''), k, 'length'] : [script.join(''), script.length + 1, 'stop']);

function sseEvents(raw) {
  if (!raw.endsWith('data: [DONE]\n\n')) throw new Error('stream without [DONE]');
  const parts = raw.split('\n\n').slice(0, -2);
  return parts.map((p) => {
    if (!p.startsWith('data: ')) throw new Error(`not an SSE data event: ${p.slice(0, 80)}`);
    return JSON.parse(p.slice(6));
  });
}

async function one(i) {
  const chat = i % 2 === 0, stream = i % 4 < 2;
  const k = 1 + (i % (script.length + 3));
  const body = chat
    ? { model: 'scripted', messages: [{ role: 'user', content: `Request ${i}` }], max_tokens: k, stream }
    : { model: 'scripted', prompt: `Request ${i}`, max_tokens: k, stream };
  if (stream) body.stream_options = { include_usage: true };
  const response = await fetch(`${url}/v1/${chat ? 'chat/completions' : 'completions'}`, { method: 'POST', headers, body: JSON.stringify(body) });
  const raw = await response.text();
  if (response.status !== 200) throw new Error(`status ${response.status}: ${raw.slice(0, 200)}`);
  let text = '', finish = null, tokens = null;
  if (stream) {
    for (const event of sseEvents(raw)) {
      if (event.usage) tokens = event.usage.completion_tokens;
      const c = event.choices[0];
      if (!c) continue;
      text += chat ? '' : c.text;
      finish = c.finish_reason ?? finish;
    }
  } else {
    const answer = JSON.parse(raw);
    const c = answer.choices[0];
    text = chat ? '' : c.text;
    finish = c.finish_reason;
    tokens = answer.usage.completion_tokens;
  }
  const [wantText, wantTokens, wantFinish] = expected(k);
  if ((!chat && text !== wantText) || tokens !== wantTokens || finish !== wantFinish)
    throw new Error(`request ${i} (max_tokens ${k}, chat ${chat}, stream ${stream}): got ${JSON.stringify([text, tokens, finish])}, wanted ${JSON.stringify([wantText, wantTokens, wantFinish])}`);
}

let next = 0, done = 0;
const errors = [];
const start = Date.now();
await Promise.all(Array.from({ length: Number(clients) }, async () => {
  while (next < Number(total)) {
    const i = next++;
    try { await one(i); done++; } catch (e) { errors.push(e.message); }
  }
}));
const seconds = (Date.now() - start) / 1000;
console.log(`${done} of ${total} requests complete and right in ${seconds.toFixed(1)} s (${(done / seconds).toFixed(0)} req/s), ${errors.length} errors`);
for (const e of errors.slice(0, 5)) console.log(`  ${e}`);
process.exit(errors.length || done !== Number(total) ? 1 : 0);
