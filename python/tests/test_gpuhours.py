"""The notebooks' helper (python/gpuhours): finding the binary, the options it passes, shipped scenario names, and
what run, sweep, whatif and compare return. Run by ctest (python_helper) with GPUHOURS_BIN set to the build's binary:
    GPUHOURS_BIN=build/gpuhours PYTHONPATH=python python3 -m unittest discover -s python/tests
"""

import os
import pathlib
import stat
import tempfile
import unittest

import pandas as pd
from unittest import mock

import gpuhours

# Megatron-LM GPT 1.7B on 32 A100 (scenarios/validation/megatron-1.7b.toml): data parallel only, simulates in well
# under a second, no uncertain inputs.
SMALL = "validation/megatron-1.7b.toml"


class FindsTheBinary(unittest.TestCase):
    def test_explicit_variable_that_is_not_executable_says_so(self):
        with tempfile.NamedTemporaryFile() as f, mock.patch.dict(os.environ, {"GPUHOURS_BIN": f.name}):
            with self.assertRaisesRegex(gpuhours.BinaryNotFound, "GPUHOURS_BIN=.* is not an executable file"):
                gpuhours.binary()

    def test_nowhere_names_every_way_to_fix_it(self):
        # No variable, an empty PATH, and a module directory with no build/ or bin/ near it.
        env = {k: v for k, v in os.environ.items() if k != "GPUHOURS_BIN"}
        env["PATH"] = ""
        with tempfile.TemporaryDirectory() as empty, mock.patch.dict(os.environ, env, clear=True), \
                mock.patch.object(gpuhours, "_HERE", pathlib.Path(empty) / "a" / "b" / "c" / "d"):
            with self.assertRaises(gpuhours.BinaryNotFound) as caught:
                gpuhours.binary()
        message = str(caught.exception)
        for fix in ("PATH", "cmake --install", "apt-get install", "scripts/setup.sh", "GPUHOURS_BIN="):
            self.assertIn(fix, message)

    def test_the_variable_wins(self):
        with tempfile.TemporaryDirectory() as d:
            fake = pathlib.Path(d) / "gpuhours"
            fake.write_text("#!/bin/sh\n")
            fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
            with mock.patch.dict(os.environ, {"GPUHOURS_BIN": str(fake)}):
                self.assertEqual(gpuhours.binary(), str(fake))


class Options(unittest.TestCase):
    def test_set_seed_samples_and_flags_become_cli_arguments(self):
        args = gpuhours._options({"cluster.gpus": 64, "training.dropout": False, "pricing.gpu_hour": "$2"}, seed=3,
                                 samples=5, mode="full", same_price=True, rule=None, quiet=False)
        self.assertEqual(args, ["--set", "cluster.gpus=64", "--set", "training.dropout=false",
                                "--set", "pricing.gpu_hour=$2", "--seed", "3", "--samples", "5",
                                "--mode", "full", "--same-price"])

    def test_lists_and_tables_are_written_as_toml(self):
        # An audit: set={"phases": [{"name": "a", "steps": 10}]} was sent as Python's repr, which --set refused; a
        # string inside is a TOML basic string, a boolean TOML's.
        args = gpuhours._options({"phases": [{"name": "a", "steps": 10, "dropout": True}],
                                  "parallelism.recompute_modules": ["core_attn", "mlp"]})
        self.assertEqual(args, ["--set", 'phases=[{name = "a", steps = 10, dropout = true}]',
                                "--set", 'parallelism.recompute_modules=["core_attn", "mlp"]'])

    def test_one_chip_as_a_string_is_one_chip(self):
        # whatif(…, chips="h100") ran --chips h,1,0,0 (an audit's case).
        self.assertEqual(gpuhours._chip_list("h100"), "h100")
        self.assertEqual(gpuhours._chip_list(["h100", "h20"]), "h100,h20")
        self.assertIsNone(gpuhours._chip_list(None))

    def test_capacity_is_exported(self):
        self.assertIn("capacity", gpuhours.__all__)

    def test_another_schema_version_is_said_as_such(self):
        # The binary exits 0; the mismatch was raised as "exited 0" (an audit): its own error type and message.
        with mock.patch.object(gpuhours, "cli", return_value='{"schema_version": 3}'):
            with self.assertRaises(gpuhours.SchemaMismatch) as caught:
                gpuhours.json("run", "x.toml")
        self.assertIn("wrote schema_version 3; this module reads 4", str(caught.exception))
        self.assertNotIn("exited", str(caught.exception))


class Scenarios(unittest.TestCase):
    def test_a_shipped_name_resolves_from_any_directory(self):
        with tempfile.TemporaryDirectory() as d:
            cwd = os.getcwd()
            os.chdir(d)
            try:
                path = gpuhours.scenario_path(SMALL)
                self.assertEqual(path, str(gpuhours.data_dir() / "scenarios" / SMALL))
                self.assertEqual(gpuhours.scenario_path("deepseek-v3"), str(gpuhours.data_dir() / "scenarios" / "deepseek-v3.toml"))
                with self.assertRaisesRegex(FileNotFoundError, "no scenario nope.toml.*deepseek-v3.toml"):
                    gpuhours.scenario_path("nope.toml")
            finally:
                os.chdir(cwd)

    def test_a_mistake_is_the_binarys_located_message(self):
        with self.assertRaises(gpuhours.CommandError) as caught:
            gpuhours.run(SMALL, set={"parallelism.pipline": 2})
        self.assertEqual(caught.exception.returncode, 2)
        # A mistake in an override is located at the flag (a file's own mistake at file:line:column).
        self.assertIn("--set parallelism.pipline=2: error: unknown key `pipline`", str(caught.exception))


class Results(unittest.TestCase):
    def test_run_returns_the_json_document(self):
        doc = gpuhours.run(SMALL, seed=1)
        segment = doc["phases"][0]["segments"][0]
        # 300B tokens in steps of 512 sequences × 2,048 tokens = 1,048,576 tokens: 286,102.29 steps.
        self.assertAlmostEqual(segment["steps"], 300e9 / (512 * 2048), places=3)
        # GPU-hours = steps × step time × 32 GPUs / 3,600 s.
        self.assertAlmostEqual(doc["phases"][0]["gpu_hours"] / (segment["steps"] * segment["step_time_s"] * 32 / 3600),
                               1.0, places=9)

    def test_sweep_is_a_row_per_point_with_the_catalog_chip(self):
        table = gpuhours.sweep(SMALL, vary={"cluster.gpus": [32, 64]})
        self.assertEqual(list(table["cluster.gpus"]), [32, 64])
        self.assertEqual(list(table["status"]), ["ok", "ok"])
        self.assertEqual(list(table["chip"]), ["a100-80gb", "a100-80gb"])

    def test_whatif_is_a_row_per_chip(self):
        table = gpuhours.whatif(SMALL, chips=["a100-80gb", "h100"], samples=1)
        self.assertLessEqual({"a100-80gb", "h100"}, set(table["chip"]))
        self.assertIn("limiter_seconds.compute", table.columns)
        self.assertEqual(table.attrs["json"]["schema_version"], 4)

    def test_compare_sets_two_runs_side_by_side(self):
        table = gpuhours.compare(SMALL, SMALL, set_b={"cluster.gpus": 64})
        a, b = table.columns[0], table.columns[1]
        self.assertEqual((a, b), (f"{SMALL} (a)", f"{SMALL} (b)"))
        doc = table.attrs["json"]
        self.assertEqual(table.loc["step time (s)", a], doc["scenarios"][0]["step_time_s"])
        ratio = table.loc["step time (s)", "b / a"]
        self.assertAlmostEqual(ratio, doc["scenarios"][1]["step_time_s"] / doc["scenarios"][0]["step_time_s"], places=12)
        # The command lists the one input set apart (and what it resolves to).
        self.assertIn("cluster.gpus", [d["key"] for d in doc["differences"]])
        # Twice the data-parallel replicas: each GPU's 4 micro-batches become 2, so compute and recompute (3.36 of
        # the 3.46 s step at 32 GPUs) halve; the gradient all-reduce (~0.07 s, ring: 2(n-1)/n of the gradients per
        # GPU, nearly constant in n) and the optimizer (0.03 s) do not: (3.46 - 0.10)/2 + 0.10 = 1.78 s, ratio 0.51.
        self.assertGreater(ratio, 0.50)
        self.assertLess(ratio, 0.55)
        # Both run the scenario's tokens (a row of its own), in the same precision, so the MFU ratio is given.
        self.assertEqual(table.loc["tokens", "b / a"], 1.0)
        self.assertIsNotNone(table.loc["MFU, compute precision, causal", "b / a"])

    def test_compare_gives_no_mfu_ratio_across_precisions(self):
        # megatron-1.7b computes in FP16; the same run in BF16 is against another peak.
        table = gpuhours.compare(SMALL, SMALL, set_b={"training.precision": "bf16"})
        self.assertTrue(pd.isna(table.loc["MFU, compute precision, causal", "b / a"]))
        self.assertFalse(pd.isna(table.loc["MFU, BF16 peak, full attention", "b / a"]))

    def test_capacity_gives_tokens_that_run_forward_within_the_deadline(self):
        table = gpuhours.capacity(SMALL, deadline="1 day")
        row = table.iloc[0]
        self.assertTrue(row["feasible"])
        # The answer's overrides, run forward, finish within the day.
        sets = dict(o.split("=", 1) for o in row["overrides"])
        self.assertLessEqual(gpuhours.run(SMALL, set=sets)["run"]["wall_clock_days_p50"], 1.0)


if __name__ == "__main__":
    unittest.main()


class WithoutPandas(unittest.TestCase):
    """A Python that cannot import pandas (a pyenv or venv beside Debian's python3-pandas, which only
    /usr/bin/python3 sees): importing the helper and run() work, a DataFrame function says what to install (a new
    user's import failed outright, session 54)."""

    def test_run_works_and_dataframes_say_what_to_install(self):
        import subprocess
        import sys
        code = (
            "import sys\n"
            "sys.modules['pandas'] = None\n"  # `import pandas` now raises ImportError
            "import gpuhours\n"
            f"doc = gpuhours.run({SMALL!r})\n"
            "assert doc['schema_version'] == gpuhours.SCHEMA_VERSION, doc['schema_version']\n"
            "try:\n"
            "    gpuhours.chips()\n"
            "except ImportError as e:\n"
            "    print('refused:', e)\n"
        )
        env = dict(os.environ, PYTHONPATH=str(pathlib.Path(gpuhours.__file__).resolve().parent.parent))
        result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn("refused: this function returns a pandas DataFrame", result.stdout)
        self.assertIn("apt install python3-pandas", result.stdout)
