#!/usr/bin/env python3
"""Tests of check_dashboard.py: the test dashboard passes, and each kind of mistake in a copy of
it is reported, by the lint and by the command's exit status. Run: python3 check_dashboard_test.py"""

import copy
import json
import os
import subprocess
import sys
import tempfile
import unittest

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
import check_dashboard  # noqa: E402

SCRIPT = os.path.join(os.path.dirname(HERE), "check_dashboard.py")

with open(os.path.join(HERE, "demo.json"), encoding="utf-8") as f:
    GOOD = json.load(f)


def broken(change):
    dashboard = copy.deepcopy(GOOD)
    change(dashboard)
    return dashboard


def nested(d):
    """The panel inside the collapsed row."""
    return d["panels"][4]["panels"][0]


class Lint(unittest.TestCase):
    def assert_problem(self, dashboard, text):
        problems = check_dashboard.lint(dashboard)
        self.assertTrue(any(text in p for p in problems), "%r not in %r" % (text, problems))

    def test_good_dashboard_has_no_problems(self):
        self.assertEqual(check_dashboard.lint(GOOD), [])

    def test_http_api_payload(self):
        self.assert_problem({"dashboard": GOOD, "overwrite": True}, "HTTP API payload")

    def test_uid_title_schema(self):
        self.assert_problem(broken(lambda d: d.pop("uid")), "uid None")
        self.assert_problem(broken(lambda d: d.update(uid="a/b")), "uid 'a/b'")
        self.assert_problem(broken(lambda d: d.update(title=" ")), "no title")
        self.assert_problem(broken(lambda d: d.update(schemaVersion=27)), "schemaVersion 27")

    def test_datasource_variable(self):
        self.assert_problem(broken(lambda d: d["templating"]["list"].pop(0)), 'type "datasource"')
        self.assert_problem(broken(lambda d: d["panels"][0]["targets"][0].update(datasource="Prometheus")),
                            'panel 1 "HTTP requests by status" target A: datasource "Prometheus"')
        self.assert_problem(broken(lambda d: nested(d).update(datasource={"type": "prometheus", "uid": "x"})),
                            'panel 6 "Resident memory": datasource')
        self.assert_problem(broken(lambda d: d["templating"]["list"][1].pop("datasource")),
                            "variable path: datasource null")

    def test_panel_ids_and_grid(self):
        self.assert_problem(broken(lambda d: nested(d).update(id=1)), 'id 1 is also panel "HTTP requests by status"')
        self.assert_problem(broken(lambda d: d["panels"][1].update(id="2")), "id is not an integer")
        self.assert_problem(broken(lambda d: d["panels"][1]["gridPos"].update(x=20)), "within 24 columns")

    def test_targets(self):
        self.assert_problem(broken(lambda d: d["panels"][0].update(targets=[])), "no targets")
        self.assert_problem(broken(lambda d: d["panels"][0]["targets"][0].pop("refId")), "no refId")
        self.assert_problem(broken(lambda d: d["panels"][0]["targets"].append(dict(d["panels"][0]["targets"][0]))),
                            "refId used twice")
        self.assert_problem(broken(lambda d: nested(d)["targets"][0].update(expr="")), "target A: no expr")
        self.assert_problem(broken(lambda d: d["panels"][0]["targets"][0].update(expr="rate(x[$__rate_intervl])")),
                            "unknown variable $__rate_intervl")

    def test_units(self):
        self.assert_problem(broken(lambda d: d["panels"][3]["fieldConfig"]["defaults"].pop("unit")), "no unit")
        heatmap = copy.deepcopy(GOOD["panels"][0])
        heatmap.update(id=99, type="heatmap", options={})
        self.assert_problem(broken(lambda d: d["panels"].append(heatmap)), "no y-axis unit")


class Command(unittest.TestCase):
    def run_on(self, *paths):
        return subprocess.run([sys.executable, SCRIPT, *paths], stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True)

    def test_exit_status(self):
        with tempfile.TemporaryDirectory() as tmp:
            bad = os.path.join(tmp, "bad.json")
            with open(bad, "w", encoding="utf-8") as f:
                json.dump(broken(lambda d: d.update(schemaVersion=30)), f)
            good = os.path.join(HERE, "demo.json")
            result = self.run_on(good)
            self.assertEqual(result.returncode, 0, result.stdout)
            self.assertIn("ok (7 panels, 6 targets)", result.stdout)
            result = self.run_on(good, bad)
            self.assertEqual(result.returncode, 1, result.stdout)
            self.assertIn("bad.json: schemaVersion 30 is not >= 36", result.stdout)
            self.assertEqual(self.run_on(os.path.join(tmp, "missing.json")).returncode, 2)


if __name__ == "__main__":
    unittest.main()
