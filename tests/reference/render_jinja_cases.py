#!/usr/bin/env python3
"""Renders the Jinja cases of tests/reference/jinja_cases.json with Python's jinja2, configured as
Hugging Face transformers configures it for chat templates, into tests/fixtures/jinja/expected.json.
The C++ interpreter's golden test (tests/unit/engine/tokenizer/jinja/test_jinja_golden.cpp) must
match every output byte for byte, and fail where Python fails.

Run from the repository root; it needs only jinja2 (3.1), and uses transformers' own environment
when transformers is installed:
    python3 tests/reference/render_jinja_cases.py

Each case of the output keeps its name, template and context, and adds either "output" (the
rendered text) or "error" (the exception's message; for raise_exception, the message given),
"error_type" (the exception class), "stage" ("parse" when compiling the template fails, else
"render") and, for syntax errors, "error_line".
"""
import json
import os
import sys
from datetime import datetime

import jinja2
import jinja2.ext
from jinja2.sandbox import ImmutableSandboxedEnvironment

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CASES = os.path.join(ROOT, "tests", "reference", "jinja_cases.json")
EXPECTED = os.path.join(ROOT, "tests", "fixtures", "jinja", "expected.json")


class GenerationExtension(jinja2.ext.Extension):
    """transformers' AssistantTracker without the tracking: {% generation %} renders its body."""

    tags = {"generation"}

    def parse(self, parser):
        lineno = next(parser.stream).lineno
        body = parser.parse_statements(["name:endgeneration"], drop_needle=True)
        return jinja2.nodes.CallBlock(self.call_method("_generation_support"), [], [], body).set_lineno(lineno)

    def _generation_support(self, caller):
        return caller()


def compile_like_transformers(source):
    """A copy of transformers.utils.chat_template_utils._compile_jinja_template."""

    def raise_exception(message):
        raise jinja2.exceptions.TemplateError(message)

    def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
        # transformers' override: no HTML escaping, keys in insertion order, options exposed.
        return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)

    def strftime_now(format):
        return datetime.now().strftime(format)

    env = ImmutableSandboxedEnvironment(
        trim_blocks=True, lstrip_blocks=True, extensions=[GenerationExtension, jinja2.ext.loopcontrols]
    )
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = strftime_now
    return env.from_string(source)


def template_compiler():
    try:
        from transformers.utils.chat_template_utils import _compile_jinja_template
    except ImportError:
        return compile_like_transformers, "a copy of transformers' environment"
    import transformers

    return _compile_jinja_template, f"transformers {transformers.__version__}"


def render_case(compile_template, case):
    result = {"name": case["name"], "template": case["template"], "context": case["context"]}
    stage = "parse"
    try:
        template = compile_template(case["template"])
        stage = "render"
        result["output"] = template.render(**case["context"])
    except Exception as error:  # every failure is an expected result, recorded as Python reports it
        is_template_error = isinstance(error, jinja2.TemplateError)
        result["error"] = error.message if is_template_error and error.message is not None else str(error)
        result["error_type"] = type(error).__name__
        result["stage"] = stage
        if isinstance(error, jinja2.TemplateSyntaxError):
            result["error_line"] = error.lineno
    return result


def main():
    with open(CASES, encoding="utf-8") as f:
        cases = json.load(f)
    names = [case["name"] for case in cases]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        sys.exit(f"duplicate case names: {', '.join(duplicates)}")
    compile_template, source = template_compiler()
    results = [render_case(compile_template, case) for case in cases]
    os.makedirs(os.path.dirname(EXPECTED), exist_ok=True)
    with open(EXPECTED, "w", encoding="utf-8") as f:
        json.dump(results, f, ensure_ascii=False, indent=1)
        f.write("\n")
    errors = sum("error" in result for result in results)
    print(f"{len(results)} cases ({errors} errors) rendered with jinja2 {jinja2.__version__} and {source} -> {EXPECTED}")


if __name__ == "__main__":
    main()
