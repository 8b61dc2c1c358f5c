#!/usr/bin/env python3
"""Trains llmctl's demo model: a 4.9M-parameter Qwen2-architecture model (9.8 MB in bf16) with a byte-level
BPE tokenizer and a ChatML chat template, on the King James Bible (public domain). It continues Bible-like
text, answers "Tell me about light." with a verse (and a reference, not always the right one), finishes a
verse from its first words, and says what it is when greeted. Small enough to ship in the repository and answer on a laptop CPU at once.

Run on the GPU machine (torch, transformers and tokenizers installed; no network needed):
    packaging/demo-model/corpus.sh kjv.txt                                  # here: needs apt
    python3 packaging/demo-model/train.py kjv.txt packaging/demo-model/llmctl-demo tests/fixtures/demo-model.json
It writes the model folder (Hugging Face layout) and the expected greedy outputs of transformers for the
prompts below, which the tests compare with llmctl's CPU backend token for token. Training on a GPU is not
bit-reproducible; the goldens belong to the weights written in the same run.
"""
import json
import math
import os
import random
import re
import sys
import time

import tokenizers
import torch
import transformers
from tokenizers import decoders, models, normalizers, pre_tokenizers, trainers

BOOKS = [
    "Genesis", "Exodus", "Leviticus", "Numbers", "Deuteronomy", "Joshua", "Judges", "Ruth", "1 Samuel", "2 Samuel",
    "1 Kings", "2 Kings", "1 Chronicles", "2 Chronicles", "Ezra", "Nehemiah", "Esther", "Job", "Psalms", "Proverbs",
    "Ecclesiastes", "Song of Solomon", "Isaiah", "Jeremiah", "Lamentations", "Ezekiel", "Daniel", "Hosea", "Joel",
    "Amos", "Obadiah", "Jonah", "Micah", "Nahum", "Habakkuk", "Zephaniah", "Haggai", "Zechariah", "Malachi",
    "Matthew", "Mark", "Luke", "John", "Acts", "Romans", "1 Corinthians", "2 Corinthians", "Galatians", "Ephesians",
    "Philippians", "Colossians", "1 Thessalonians", "2 Thessalonians", "1 Timothy", "2 Timothy", "Titus", "Philemon",
    "Hebrews", "James", "1 Peter", "2 Peter", "1 John", "2 John", "3 John", "Jude", "Revelation",
]

SPECIAL = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]  # ids 0, 1, 2
ENDOFTEXT, IM_START, IM_END = 0, 1, 2
# ChatML, as Qwen2 and many others use it.
CHAT_TEMPLATE = ("{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + "
                 "'<|im_end|>' + '\\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}")
# Qwen2's pre-tokenizer regex: contractions, letters with one leading non-letter, single digits, punctuation runs.
SPLIT_PATTERN = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+"
                 r"|\s+(?!\S)|\s+")

CONFIG = dict(vocab_size=4096, hidden_size=256, intermediate_size=576, num_hidden_layers=6, num_attention_heads=4,
              num_key_value_heads=2, max_position_embeddings=1024, rope_theta=10000.0, rms_norm_eps=1e-6,
              tie_word_embeddings=True, use_sliding_window=False, bos_token_id=ENDOFTEXT, eos_token_id=IM_END,
              pad_token_id=ENDOFTEXT)
SEQ_LEN = 512
BATCH_ROWS = 64
STEPS = int(os.environ.get("DEMO_STEPS", 8000))  # 41 epochs, 4 minutes on an H200
PEAK_LR, WARMUP = 2e-3, 200

IDENTITY = ("I am the llmctl demo model, a small language model trained on the King James Bible. "
            "Ask me about a word, such as light, or give me the first words of a verse to finish.")
GREETINGS = ["Hello", "Hello!", "Hi", "Hi!", "Hi there", "Hello, who are you?", "Who are you?", "What are you?",
             "What can you do?", "What is your name?", "Hey", "Good morning!", "Introduce yourself."]
SYSTEM_PROMPTS = ["You are a helpful assistant.", "You are llmctl's demo model.", "Answer briefly."]
ANY_VERSE = ["Give me a verse.", "Read me a verse, please.", "Quote the Bible.", "Say a verse.", "A verse, please."]
FINISH = ["Finish the verse: {start}", "Finish this verse: {start}", "Complete: {start}", "{start}..."]
TOPIC = ["Tell me about {w}.", "What does the Bible say about {w}?", "Give me a verse about {w}.",
         "Say something about {w}.", "{w}?", "Tell me about {w}"]
STOPWORDS = set("""the and that shall unto with them they their thou thee thy thine have hath which from were this
  said there when then upon also into will ye him his her for not but all are was be is of to in he it as by
  me my so do did done what who whom whose out up on at or an no nor yet let
  these those shalt hast doth came come went over even every because before after about against among""".split())

CHAT_PROMPTS = ["Hello! Who are you?", "What does the Bible say about water?", "Tell me about love.",
                "Finish the verse: In the beginning God", "Give me a verse."]
TEXT_PROMPTS = ["In the beginning God", "And God said,", "Blessed are the", "The LORD is my shepherd;"]
GOLDEN_TOKENS = 64


def read_verses(path):
    """[(book, chapter, verse, text)] from corpus.sh's output."""
    verses, abbreviations = [], []
    for line in open(path, encoding="ascii"):
        match = re.match(r"^(\d?[A-Za-z]+)(\d+):(\d+) (.*)$", line.rstrip("\n"))
        abbreviation, chapter, verse, text = match.groups()
        if not abbreviations or abbreviations[-1] != abbreviation:
            abbreviations.append(abbreviation)
        verses.append((BOOKS[len(abbreviations) - 1], int(chapter), int(verse), text))
    assert len(abbreviations) == len(BOOKS) == 66 and len(verses) == 31102, (len(abbreviations), len(verses))
    return verses


def chat(messages):
    """A conversation rendered with the chat template, and the character spans the model learns to write:
    each assistant message with its <|im_end|>."""
    text, spans = "", []
    for role, content in messages:
        text += f"<|im_start|>{role}\n"
        if role == "assistant":
            spans.append((len(text), len(text) + len(content) + len("<|im_end|>")))
        text += content + "<|im_end|>\n"
    return text, spans


def topic_word(text, rng):
    words = [w for w in re.findall(r"[A-Za-z]+", text) if len(w) >= 4 and w.lower() not in STOPWORDS]
    if not words:
        return None
    word = rng.choice(words)
    return word if word.isupper() or word[0].isupper() and text.find(word) > 0 else word.lower()


def documents(verses, rng):
    """(text, trained character spans) for every training document: the chapters as plain text (verse per
    line), each once from its heading and once from a random verse on (prompts start anywhere), then
    conversations: a verse about a word, a verse finished from its first words, any verse, greetings; some
    with a system message, some two exchanges long."""
    docs = []
    chapters = {}
    for book, chapter, _, text in verses:
        chapters.setdefault((book, chapter), []).append(text)
    for (book, chapter), lines in chapters.items():
        texts = [f"{book} {chapter}\n\n" + "\n".join(lines[start:start + 24])  # Psalm 119 would not fit in a row
                 for start in range(0, len(lines), 24)]
        start = rng.randrange(len(lines))
        texts.append("\n".join(lines[start:start + 24]))
        docs += [(text + "<|endoftext|>", [(0, len(text) + len("<|endoftext|>"))]) for text in texts]

    def exchange():
        kind = rng.random()
        if kind < 0.06:
            return rng.choice(GREETINGS), IDENTITY
        book, chapter, verse, text = rng.choice(verses)
        ref = f"{book} {chapter}:{verse}"
        words = text.split()
        if kind < 0.36 and len(words) > 6:
            return rng.choice(FINISH).format(start=" ".join(words[:rng.randint(2, 5)])), text
        word = topic_word(text, rng)
        if kind < 0.5 or word is None:
            return rng.choice(ANY_VERSE), f"{text} ({ref})"
        return rng.choice(TOPIC).format(w=word), f"{text} ({ref})"

    for _ in range(2 * len(verses)):
        messages = []
        if rng.random() < 0.2:
            messages.append(("system", rng.choice(SYSTEM_PROMPTS)))
        for _ in range(2 if rng.random() < 0.2 else 1):
            user, assistant = exchange()
            messages += [("user", user), ("assistant", assistant)]
        docs.append(chat(messages))
    rng.shuffle(docs)
    return docs


def make_tokenizer(verses):
    tok = tokenizers.Tokenizer(models.BPE())
    tok.normalizer = normalizers.NFC()
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(tokenizers.Regex(SPLIT_PATTERN), behavior="isolated"),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=CONFIG["vocab_size"], special_tokens=SPECIAL,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    sample = [text for _, _, _, text in verses] + GREETINGS + [IDENTITY] + SYSTEM_PROMPTS + ANY_VERSE + FINISH + TOPIC + BOOKS
    tok.train_from_iterator(sample, trainer)
    assert tok.get_vocab_size() == CONFIG["vocab_size"], tok.get_vocab_size()
    assert [tok.token_to_id(s) for s in SPECIAL] == [ENDOFTEXT, IM_START, IM_END]
    return tok


def write_tokenizer(tok, folder):
    tok.save(os.path.join(folder, "tokenizer.json"))
    # As Qwen2.5's repositories write it, so that any transformers version (and vLLM) loads it.
    config = {
        "add_bos_token": False, "add_prefix_space": False,
        "added_tokens_decoder": {str(i): {"content": s, "lstrip": False, "normalized": False, "rstrip": False,
                                          "single_word": False, "special": True} for i, s in enumerate(SPECIAL)},
        "additional_special_tokens": ["<|im_start|>", "<|im_end|>"],
        "bos_token": None, "chat_template": CHAT_TEMPLATE, "clean_up_tokenization_spaces": False,
        "eos_token": "<|im_end|>", "errors": "replace", "model_max_length": CONFIG["max_position_embeddings"],
        "pad_token": "<|endoftext|>", "split_special_tokens": False, "tokenizer_class": "Qwen2Tokenizer",
        "unk_token": None,
    }
    with open(os.path.join(folder, "tokenizer_config.json"), "w") as f:
        json.dump(config, f, indent=2)
        f.write("\n")


def encode(tok, docs):
    """Token ids and a parallel trained/not mask per document, the mask from the character spans."""
    encoded = []
    for (_, spans), enc in zip(docs, tok.encode_batch([text for text, _ in docs])):
        mask = [any(a <= start < b for a, b in spans) for start, _ in enc.offsets]
        encoded.append((enc.ids, mask))
    return encoded


def pack(encoded, rng):
    """Rows of SEQ_LEN tokens, each starting at a document's start (as prompts do), filled with whole
    documents and padded with <|endoftext|> that is not trained."""
    order = list(range(len(encoded)))
    rng.shuffle(order)
    rows, labels = [], []
    ids, lab = [], []
    for i in order:
        doc_ids, mask = encoded[i]
        doc_ids, mask = doc_ids[:SEQ_LEN], mask[:SEQ_LEN]
        if len(ids) + len(doc_ids) > SEQ_LEN:
            rows.append(ids + [ENDOFTEXT] * (SEQ_LEN - len(ids)))
            labels.append(lab + [-100] * (SEQ_LEN - len(lab)))
            ids, lab = [], []
        ids += doc_ids
        lab += [t if m else -100 for t, m in zip(doc_ids, mask)]
    return torch.tensor(rows), torch.tensor(labels)


def train(model, tok, verses, rng, device):
    encoded = encode(tok, documents(verses, rng))
    tokens = sum(len(ids) for ids, _ in encoded)
    print(f"{len(encoded)} documents, {tokens} tokens per epoch", flush=True)
    optimizer = torch.optim.AdamW(model.parameters(), lr=PEAK_LR, betas=(0.9, 0.95), weight_decay=0.1, fused=True)
    rows, labels = pack(encoded, rng)
    cursor, epoch, start = 0, 0, time.time()
    for step in range(STEPS):
        if cursor + BATCH_ROWS > len(rows):  # a fresh packing every epoch
            rows, labels = pack(encoded, rng)
            cursor, epoch = 0, epoch + 1
        lr = PEAK_LR * min(1.0, (step + 1) / WARMUP) * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * step / STEPS)))
        for group in optimizer.param_groups:
            group["lr"] = lr
        batch = rows[cursor:cursor + BATCH_ROWS].to(device)
        target = labels[cursor:cursor + BATCH_ROWS].to(device)
        cursor += BATCH_ROWS
        with torch.autocast("cuda", dtype=torch.bfloat16):
            loss = model(input_ids=batch, labels=target).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        if step % 250 == 0 or step == STEPS - 1:
            print(f"step {step} epoch {epoch} loss {loss.item():.3f} lr {lr:.2e} {time.time() - start:.1f} s", flush=True)


@torch.no_grad()
def greedy(model, prompt_ids):
    """transformers' greedy continuation in fp32 on the CPU, up to GOLDEN_TOKENS or an end token, with each
    step's logprob and its margin over the second choice."""
    ids, steps = list(prompt_ids), []
    for _ in range(GOLDEN_TOKENS):
        logprobs = torch.log_softmax(model(torch.tensor([ids])).logits[0, -1].float(), dim=-1)
        top = torch.topk(logprobs, 2)
        token = int(top.indices[0])
        steps.append({"token": token, "logprob": float(top.values[0]), "margin": float(top.values[0] - top.values[1])})
        ids.append(token)
        if token in (ENDOFTEXT, IM_END):
            break
    return steps


def write_goldens(folder, path):
    """Loads the written folder as any user would (bf16 weights), computes in fp32 on one CPU thread."""
    torch.set_num_threads(1)
    tokenizer = transformers.AutoTokenizer.from_pretrained(folder)
    model = transformers.AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).eval()
    cases = []
    for text in TEXT_PROMPTS:
        cases.append({"prompt": text, "prompt_token_ids": tokenizer.encode(text)})
    for message in CHAT_PROMPTS:
        messages = [{"role": "user", "content": message}]
        rendered = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        cases.append({"messages": messages, "prompt": rendered, "prompt_token_ids": tokenizer.encode(rendered)})
    for case in cases:
        steps = greedy(model, case["prompt_token_ids"])
        tokens = [s["token"] for s in steps]
        case.update({
            "token_ids": tokens,
            "text": tokenizer.decode(tokens, skip_special_tokens=True),
            # vLLM V1 checks the length cap before the end token.
            "finish_reason": "length" if len(tokens) == GOLDEN_TOKENS else "stop",
            "logprobs": [s["logprob"] for s in steps],
            "min_margin": min(s["margin"] for s in steps),
        })
        print(json.dumps(case["prompt"]), "->", json.dumps(case["text"]), f"(min margin {case['min_margin']:.3f})")
    expected = {"transformers_version": transformers.__version__, "torch_version": torch.__version__,
                "max_tokens": GOLDEN_TOKENS, "cases": cases}
    with open(path, "w") as f:
        json.dump(expected, f, indent=1)
        f.write("\n")


def main(corpus, folder, goldens):
    random.seed(0)
    torch.manual_seed(0)
    rng = random.Random(0)
    device = "cuda"
    verses = read_verses(corpus)
    tok = make_tokenizer(verses)
    os.makedirs(folder, exist_ok=True)
    write_tokenizer(tok, folder)
    loaded = transformers.AutoTokenizer.from_pretrained(folder)
    for _, _, _, text in verses[::97]:
        assert loaded.encode(text) == tok.encode(text).ids, text

    config = transformers.Qwen2Config(**CONFIG)
    model = transformers.Qwen2ForCausalLM(config).to(device)
    print(f"{model.num_parameters()} parameters", flush=True)
    train(model, tok, verses, rng, device)

    model.generation_config = transformers.GenerationConfig(
        bos_token_id=ENDOFTEXT, eos_token_id=[IM_END, ENDOFTEXT], pad_token_id=ENDOFTEXT,
        do_sample=True, temperature=0.7, top_p=0.9)
    model.to(torch.bfloat16).save_pretrained(folder)
    write_goldens(folder, goldens)

    sampler = transformers.AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).eval()
    for message in ["Tell me about the sea.", "Who are you?", "Finish the verse: The LORD is my shepherd;"]:
        prompt = loaded.apply_chat_template([{"role": "user", "content": message}], add_generation_prompt=True,
                                            return_tensors="pt", return_dict=True)
        out = sampler.generate(**prompt, max_new_tokens=60)
        print("sampled:", message, "->", json.dumps(loaded.decode(out[0, prompt["input_ids"].shape[1]:],
                                                                   skip_special_tokens=True)))


if __name__ == "__main__":
    main(*sys.argv[1:4])
