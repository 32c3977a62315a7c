"""Call the gpuhours command line from Python and get its results as dicts and pandas DataFrames.

    import gpuhours
    doc = gpuhours.run("deepseek-v3.toml", set={"pricing.gpu_hour": "$2.5"}, seed=7)   # dict: `run --json`
    table = gpuhours.whatif("deepseek-v3.toml", chips=["h800", "h100", "h20"])         # DataFrame, a row per chip
    grid = gpuhours.sweep("deepseek-v3.toml", vary={"pricing.gpu_hour": ["$1.5", "$2", "$3"]})  # a row per point
    side = gpuhours.compare("deepseek-v3.toml", "deepseek-v3.toml", set_b={"cluster.chip": "h100"})

Standard library and pandas only; pandas is imported by the functions that return DataFrames, so run(), json() and
cli() work without it (on Debian: apt install python3-pandas, which /usr/bin/python3 sees). Every function runs the binary as a subprocess and reads its `--json` (or, for
sweeps, CSV) output, documented in docs/schemas.md; units are in the field names (`step_time_s`, `cost_usd_p50`).

Which binary (binary()): $GPUHOURS_BIN if set; else the one of this module's own checkout (build/gpuhours) or
install (PREFIX/bin/gpuhours beside PREFIX/share/gpuhours/python); else `gpuhours` on PATH. Without one it raises
BinaryNotFound saying how to provide one.

Scenarios (scenario_path()): a path to an existing file, or the name of a shipped scenario relative to the
binary's `scenarios/` ("deepseek-v3.toml", "validation/megatron-1.7b.toml"), found through `gpuhours --data-dir`
so that a notebook runs from any directory with only the binary installed.

A command that fails raises CommandError with the binary's message (file:line:column and what to change).
"""

from __future__ import annotations

import json as _json
import os
import pathlib
import shutil
import subprocess
import tempfile
from typing import TYPE_CHECKING, Any, Iterable, Mapping

if TYPE_CHECKING:
    import pandas as pd


def _pandas():
    """pandas, imported when a DataFrame is asked for (run() returns a dict and works without it)."""
    try:
        import pandas
    except ImportError as e:  # a Python without pandas (a pyenv or venv beside Debian's python3-pandas)
        raise ImportError("this function returns a pandas DataFrame and pandas is not importable from this Python: "
                          "install it (apt install python3-pandas for /usr/bin/python3, or pip install pandas)") from e
    return pandas

__all__ = ["BinaryNotFound", "CommandError", "SchemaMismatch", "binary", "data_dir", "scenario_path", "cli", "json", "run", "whatif",
           "sweep", "compare", "capacity", "chips", "validate"]

SCHEMA_VERSION = 4
_HERE = pathlib.Path(__file__).resolve().parent


class BinaryNotFound(FileNotFoundError):
    """No gpuhours binary: the message lists where it looked and how to provide one."""


class CommandError(RuntimeError):
    """The binary exited with an error; `returncode` and `stderr` are its own."""

    def __init__(self, args: list[str], returncode: int, stderr: str):
        self.args_used, self.returncode, self.stderr = args, returncode, stderr
        super().__init__(f"gpuhours {' '.join(args)} exited {returncode}:\n{stderr.strip()}")


class SchemaMismatch(CommandError):
    """The binary succeeded but writes another JSON schema_version than this module reads."""

    def __init__(self, args: list[str], found: Any):
        RuntimeError.__init__(self, f"gpuhours {' '.join(args)} wrote schema_version {found}; this module reads "
                                    f"{SCHEMA_VERSION}: use the gpuhours Python helper of the binary's version "
                                    f"(`gpuhours --data-dir`/python)")
        self.args_used, self.returncode, self.stderr = args, 0, ""


def binary() -> str:
    """The path of the gpuhours binary (see the module's text for the order); raises BinaryNotFound."""
    explicit = os.environ.get("GPUHOURS_BIN")
    if explicit:
        if os.access(explicit, os.X_OK) and os.path.isfile(explicit):
            return explicit
        raise BinaryNotFound(f"GPUHOURS_BIN={explicit} is not an executable file: point it at the gpuhours binary "
                             "(e.g. build/gpuhours in a checkout), or unset it to use `gpuhours` on PATH")
    beside = [_HERE.parent.parent / "build" / "gpuhours",                 # checkout: python/gpuhours -> build/
              _HERE.parent.parent.parent.parent / "bin" / "gpuhours"]     # install: share/gpuhours/python/gpuhours -> bin/
    for candidate in beside:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    on_path = shutil.which("gpuhours")
    if on_path:
        return on_path
    raise BinaryNotFound(
        "the gpuhours binary was not found (looked at $GPUHOURS_BIN, " + ", ".join(str(c) for c in beside) +
        " and PATH). Do one of: put gpuhours on PATH (install it: `cmake --install build --prefix ~/.local`, or "
        "`apt-get install ./gpuhours_*.deb`); build the checkout (`scripts/setup.sh` makes build/gpuhours); or set "
        "GPUHOURS_BIN=/path/to/gpuhours")


def cli(*args: str, cwd: str | os.PathLike | None = None) -> str:
    """Runs `gpuhours ARGS…` and returns its stdout; raises CommandError on a non-zero exit."""
    argv = [str(a) for a in args]
    done = subprocess.run([binary(), *argv], cwd=cwd, capture_output=True, text=True,
                          env={**os.environ, "GPUHOURS_PROGRESS": "off"})
    if done.returncode != 0:
        raise CommandError(argv, done.returncode, done.stderr)
    return done.stdout


def json(*args: str) -> dict:
    """`gpuhours ARGS… --json` as a dict; checks the schema version this module reads."""
    doc = _json.loads(cli(*args, "--json"))
    if doc.get("schema_version") != SCHEMA_VERSION:
        raise SchemaMismatch(list(args), doc.get("schema_version"))
    return doc


def data_dir() -> pathlib.Path:
    """The binary's data directory (`gpuhours --data-dir`): scenarios/ (catalogs, shipped scenarios) and python/."""
    return pathlib.Path(cli("--data-dir").strip())


def scenario_path(scenario: str | os.PathLike) -> str:
    """An existing file as given, else the shipped scenario of that name under data_dir()/scenarios."""
    given = pathlib.Path(scenario)
    if given.is_file():
        return str(given.resolve())
    shipped = data_dir() / "scenarios"
    for candidate in (shipped / given, shipped / given.with_suffix(".toml")):
        if candidate.is_file():
            return str(candidate)
    names = sorted(str(p.relative_to(shipped)) for p in shipped.glob("**/*.toml")
                   if p.parent.name not in ("chips", "models", "policy", "families", "pricing", "reliability"))
    raise FileNotFoundError(f"no scenario {scenario!s}: not a file here ({os.getcwd()}) nor shipped in {shipped} "
                            f"(shipped: {', '.join(names)})")


def _value(v: Any) -> str:
    # --set reads the value as TOML, else as a string ("$2", "400 Gb/s"): Python's booleans (numpy's too), lists and
    # dicts are written as TOML (an inline array, an inline table; a string inside them quoted), so that
    # set={"phases": [{"name": "a", "steps": 10}]} reads as the array of tables it means.
    if isinstance(v, bool) or type(v).__name__ == "bool_":
        return "true" if v else "false"
    if isinstance(v, Mapping):
        return "{" + ", ".join(f"{k} = {_inner(x)}" for k, x in v.items()) + "}"
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_inner(x) for x in v) + "]"
    return str(v)


def _inner(v: Any) -> str:
    # A value inside an inline array or table: a string is a TOML basic string there ("a", "$2"), not bare text.
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return _value(v)


def _chip_list(chips: Iterable[str] | str | None) -> str | None:
    # One chip may be given as a string: "h100", not h,1,0,0 (an audit's case); a list is joined with commas.
    if chips is None:
        return None
    if isinstance(chips, str):
        return chips or None
    return ",".join(chips) or None


def _options(set: Mapping[str, Any] | None = None, seed: int | None = None, samples: int | None = None,
             **flags: Any) -> list[str]:
    """--set K=V for each item, --seed, --samples, then `name=value` as --name value (True: a bare flag)."""
    out: list[str] = []
    for key, value in (set or {}).items():
        out += ["--set", f"{key}={_value(value)}"]
    if seed is not None:
        out += ["--seed", str(seed)]
    if samples is not None:
        out += ["--samples", str(samples)]
    for name, value in flags.items():
        if value is None or value is False:
            continue
        flag = "--" + name.replace("_", "-")
        out += [flag] if value is True else [flag, _value(value)]
    return out


def run(scenario: str | os.PathLike, set: Mapping[str, Any] | None = None, seed: int | None = None,
        samples: int | None = None, **options: Any) -> dict:
    """`gpuhours run SCENARIO --json`: phases, step, run (days, GPU-hours, cost, energy), claims.

    `set`: scenario keys to override ({"cluster.gpus": 4096}); `options`: further flags (mode="full",
    network="alpha-beta")."""
    return json("run", scenario_path(scenario), *_options(set, seed, samples, **options))


def whatif(scenario: str | os.PathLike, chips: Iterable[str] | str | None = None, rule: str | None = None,
           deadline: str | None = None, set: Mapping[str, Any] | None = None, seed: int | None = None,
           samples: int | None = None, **options: Any) -> pd.DataFrame:
    """`gpuhours whatif --json` as a DataFrame, one row per chip (nested fields flattened: `limiter_seconds.compute`).

    The whole document is in `.attrs["json"]`."""
    doc = json("whatif", scenario_path(scenario),
               *_options(set, seed, samples, chips=_chip_list(chips), rule=rule, deadline=deadline,
                         **options))
    table = _pandas().json_normalize(doc["rows"], max_level=1)
    table.attrs["json"] = doc
    return table


def sweep(scenario: str | os.PathLike, vary: Mapping[str, Any], random: int | None = None,
          set: Mapping[str, Any] | None = None, seed: int | None = None, samples: int | None = None,
          **options: Any) -> pd.DataFrame:
    """`gpuhours sweep` as a DataFrame, one row per point (the CSV's columns, docs/sweep.md).

    `vary`: {key: [v1, v2, …]} or {key: "START:STOP:STEP"} (any --vary form); `random`: N random points."""
    args = ["sweep", scenario_path(scenario)]
    for key, values in vary.items():
        text = values if isinstance(values, str) else ",".join(_value(v) for v in values)
        args += ["--vary", f"{key}={text}"]
    if random is not None:
        args += ["--random", str(random)]
    with tempfile.TemporaryDirectory(prefix="gpuhours-sweep-") as tmp:
        out = pathlib.Path(tmp) / "sweep.csv"
        try:
            cli(*args, *_options(set, seed, samples, **options), "-o", str(out))
        except CommandError as e:
            # Points that are not a valid scenario are rows with status "error"; the sweep still wrote them.
            if not out.is_file():
                raise e
        return _pandas().read_csv(out)


# The rows compare() sets side by side: (label, field of a scenario in `gpuhours compare --json`).
_COMPARED = [
    ("title", "title"),
    ("model", "model"),
    ("chip", "chip"),
    ("GPUs", "gpus"),
    ("layout", "layout"),
    ("tokens", "tokens"),
    ("step time (s)", "step_time_s"),
    ("MFU, compute precision, causal", "mfu_causal"),
    ("MFU, BF16 peak, full attention", "mfu_bf16"),
    ("wall clock (days)", "wall_clock_days"),
    ("GPU-hours (allocated)", "gpu_hours"),
    ("cost ($)", "cost_usd"),
    ("cost, median over the samples ($)", "cost_usd_p50"),
    ("energy (MWh)", "energy_mwh"),
    ("limited by", "limited_by"),
]


def compare(a: str | os.PathLike, b: str | os.PathLike, set_a: Mapping[str, Any] | None = None,
            set_b: Mapping[str, Any] | None = None, labels: tuple[str, str] | None = None, seed: int | None = None,
            samples: int | None = None, set: Mapping[str, Any] | None = None, **options: Any) -> pd.DataFrame:
    """`gpuhours compare A B --json`: two scenarios (or one twice with different `set_a` / `set_b`) side by side: a
    row per figure (step time, MFU, days, GPU-hours, cost, energy, what limits each), a column per scenario, and
    `b / a` where both are numbers. The command's document (with `differences`, the inputs that differ key by
    key) is in `.attrs["json"]`. `set` changes both scenarios (the command's plain --set)."""
    args = ["compare", scenario_path(a), scenario_path(b)]
    for column, sets in (("A", set_a), ("B", set_b)):
        for key, value in (sets or {}).items():
            args += ["--set", f"{column}:{key}={_value(value)}"]
    doc = json(*args, *_options(set, seed, samples, **options))
    names = list(labels) if labels else [str(a), str(b)]
    if names[0] == names[1]:
        names = [f"{names[0]} (a)", f"{names[1]} (b)"]
    rows = {label: [s.get(field) for s in doc["scenarios"]] for label, field in _COMPARED}
    table = _pandas().DataFrame.from_dict(rows, orient="index", columns=names)
    table["b / a"] = [y / x if isinstance(x, (int, float)) and isinstance(y, (int, float)) and x else None
                      for x, y in zip(table[names[0]], table[names[1]])]
    # Each scenario's compute-precision MFU is against its own peak (FP8 or BF16): a ratio of two only means
    # something when both run the same precision.
    precisions = {s.get("compute_precision") for s in doc["scenarios"]}
    if len(precisions) != 1 or None in precisions:
        table.loc["MFU, compute precision, causal", "b / a"] = None
    table.attrs["json"] = doc
    return table


def capacity(scenario: str | os.PathLike, gpus: int | None = None, deadline: str | None = None,
             chips: Iterable[str] | str | None = None, family: str | None = None, set: Mapping[str, Any] | None = None,
             seed: int | None = None, samples: int | None = None, **options: Any) -> pd.DataFrame:
    """`gpuhours capacity --json` (docs/capacity.md): one row per chip with the most tokens of the scenario's model
    it trains by the deadline (`tokens`, `wall_clock_days_p50`, `cost_usd`, `layout`, `overrides`…). The whole
    document, with `family` when one is given, is in `.attrs["json"]`."""
    doc = json("capacity", scenario_path(scenario),
               *_options(set, seed, samples, gpus=gpus, deadline=deadline, chips=_chip_list(chips),
                         family=family, **options))
    table = _pandas().json_normalize(doc["tokens"], max_level=1)
    table.attrs["json"] = doc
    return table


def chips(rule: str | None = None, **options: Any) -> pd.DataFrame:
    """`gpuhours chips --json` as a DataFrame, one row per catalog chip (with `rule`: `policy.class`, `policy.tpp`…)."""
    doc = json("chips", *_options(rule=rule, **options))
    table = _pandas().json_normalize(doc["chips"], max_level=1)
    table.attrs["json"] = doc
    return table


def validate(**options: Any) -> dict:
    """`gpuhours validate --json`: every shipped validation case, predicted against reported."""
    return json("validate", *_options(**options))
