"""Reading the result files and checking each against its schema before anything is drawn.

A result file names its format in its "schema" field; each format has a schema in plots/schemas/. A file
that does not match stops the command with its name and the field at fault. Fields a schema does not
list are allowed, so the programs that write them can add some.
"""
import json
from dataclasses import dataclass
from pathlib import Path

import jsonschema

from .common import SCHEMA_DIR, ResultError, display_path, say

BENCH_SCHEMA = "swa-bench/1"  # swa bench --json FILE (grader/bench.cpp)
GRADE_SCHEMA = "swa-grade/1"  # swa grade --out DIR: DIR/grade.json (grader/report.cpp)
TORCH_SCHEMA = "swa-torch-bench/1"  # python -m swa_torch.bench --json FILE (python/): the stages beside PyTorch
SCHEMA_FILES = {BENCH_SCHEMA: "bench.schema.json", GRADE_SCHEMA: "grade.schema.json",
                TORCH_SCHEMA: "torch-bench.schema.json"}
MAX_REPORTED_ERRORS = 8  # schema errors listed for one file before "and N more"


@dataclass
class ResultFile:
    path: Path
    data: dict

    @property
    def kind(self):
        return self.data["schema"]

    @property
    def name(self):
        return display_path(self.path)


def read_result_files(items):
    """The result files named by --results (files as given, folders as their *.json files), read and checked.
    A folder may also hold the Gradescope results.json that `swa grade --out DIR` writes beside grade.json:
    it is passed over."""
    files = []
    for item in items:
        item = Path(item)
        if item.is_dir():
            found = sorted(item.glob("*.json"))
            if not found:
                raise ResultError(f"{display_path(item)}: no *.json result files in this folder "
                                  "(make them with `swa bench --json FILE` or `swa grade --out DIR`)")
            for path in found:
                data = read_json(path)
                if is_gradescope_results(data):
                    say(f"passed over {display_path(path)}: Gradescope's results, not a file this script reads")
                else:
                    files.append(checked_result_file(path, data))
        elif item.is_file():
            files.append(checked_result_file(item, read_json(item)))
        else:
            raise ResultError(f"{display_path(item)}: no such file or folder")
    return files


def read_json(path):
    name = display_path(path)
    try:
        return json.loads(Path(path).read_text())
    except json.JSONDecodeError as error:
        raise ResultError(f"{name}: not valid JSON: {error.msg} at line {error.lineno}, column {error.colno}")
    except (OSError, UnicodeDecodeError) as error:
        raise ResultError(f"{name}: cannot read: {getattr(error, 'strerror', None) or error}")


def is_gradescope_results(data):
    return isinstance(data, dict) and "schema" not in data and isinstance(data.get("tests"), list)


def checked_result_file(path, data):
    """`data` read from `path`, checked against the schema its "schema" field names."""
    name = display_path(path)
    if not isinstance(data, dict):
        raise ResultError(f"{name}: expected a JSON object at the top level, got {short_json(data)}")
    if is_gradescope_results(data):
        raise ResultError(f"{name}: this is Gradescope's results.json; give the grade.json beside it")
    if "schema" not in data:
        raise ResultError(f"{name}: schema: missing (expected one of {known_schemas()})")
    if data["schema"] not in SCHEMA_FILES:
        raise ResultError(f"{name}: schema: {short_json(data['schema'])} is not a format this script reads "
                          f"({known_schemas()})")
    problems = schema_problems(data)
    if data["schema"] == GRADE_SCHEMA and not problems:
        problems = grade_matrix_problems(data)
    if problems:
        shown = problems[:MAX_REPORTED_ERRORS]
        more = len(problems) - len(shown)
        lines = [f"{name}: {problem}" for problem in shown] + ([f"{name}: ... and {more} more"] if more else [])
        raise ResultError("\n".join(lines))
    return ResultFile(Path(path), data)


def schema_problems(data):
    """One line per way `data` breaks its schema, in the order of the file."""
    schema = json.loads((SCHEMA_DIR / SCHEMA_FILES[data["schema"]]).read_text())
    validator = jsonschema.Draft202012Validator(schema)
    problems = []
    for error in validator.iter_errors(data):
        for line in describe_schema_error(error):
            if line not in problems:
                problems.append(line)
    return problems


def field_path(parts):
    """["results", 3, "window"] -> "results[3].window"."""
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(top level)"


JSON_TYPE_NAMES = {"number": "a number", "integer": "an integer", "string": "a string", "array": "a list",
                   "object": "an object", "boolean": "true or false", "null": "null"}


def short_json(value, limit=40):
    text = json.dumps(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."


def describe_schema_error(error):
    """jsonschema's error as "field.path: what is wrong" lines."""
    where = list(error.absolute_path)
    kind, wanted, got = error.validator, error.validator_value, error.instance
    if kind == "required":
        return [f"{field_path(where + [name])}: missing" for name in wanted if name not in got]
    if kind == "type":
        names = [JSON_TYPE_NAMES.get(t, t) for t in ([wanted] if isinstance(wanted, str) else wanted)]
        return [f"{field_path(where)}: expected {' or '.join(names)}, got {short_json(got)}"]
    if kind in ("enum", "const"):
        allowed = wanted if kind == "enum" else [wanted]
        return [f"{field_path(where)}: {short_json(got)} is not one of {', '.join(json.dumps(a) for a in allowed)}"]
    if kind == "anyOf":  # e.g. a recovered weight: a number, or a word for what was not one
        wants = []
        for alternative in error.context:
            if alternative.validator == "type":
                wants.append(JSON_TYPE_NAMES.get(alternative.validator_value, alternative.validator_value))
            elif alternative.validator == "enum":
                wants.append("one of " + ", ".join(json.dumps(a) for a in alternative.validator_value))
        if wants:
            return [f"{field_path(where)}: expected {' or '.join(wants)}, got {short_json(got)}"]
    if kind == "minimum":
        return [f"{field_path(where)}: {got} is below the smallest allowed value, {wanted}"]
    if kind == "exclusiveMinimum":
        return [f"{field_path(where)}: {got} must be greater than {wanted}"]
    return [f"{field_path(where)}: {error.message}"]


def grade_matrix_problems(data):
    """What the schema cannot say: every per-query list and weight matrix of a case is N long (N x N)."""
    problems = []
    for s, stage in enumerate(data["stages"]):
        for c, check in enumerate(stage.get("checks", [])):
            for k, case in enumerate(check.get("cases", [])):
                where = f"stages[{s}].checks[{c}].cases[{k}]"
                N = case["N"]
                if "bad_per_query" in case and len(case["bad_per_query"]) != N:
                    problems.append(f"{where}.bad_per_query: {len(case['bad_per_query'])} values, "
                                    f"but the case's N is {N}")
                for name, matrix in case.get("weights", {}).items():
                    if name not in ("recovered", "expected"):
                        continue
                    if len(matrix) != N:
                        problems.append(f"{where}.weights.{name}: {len(matrix)} rows, but the case's N is {N}")
                    for i, row in enumerate(matrix):
                        if len(row) != N:
                            problems.append(f"{where}.weights.{name}[{i}]: {len(row)} values, "
                                            f"but the case's N is {N}")
                            break
    return problems




def known_schemas():
    return ", ".join(f'"{name}"' for name in SCHEMA_FILES)
