#!/usr/bin/env python3
"""Tests of check_queries.py's pure parts (no Prometheus): the selectors it finds in PromQL, and
how it substitutes Grafana variables. Run: python3 check_queries_unit_test.py"""

import os
import sys
import unittest

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
import check_queries as cq  # noqa: E402


class Selectors(unittest.TestCase):
    def test_metric_names_and_matchers(self):
        self.assertEqual(cq.selectors('up'), ["up"])
        self.assertEqual(cq.selectors('rate(a_total{x="1", y=~"b.*"}[5m]) / b:rec'),
                         ['a_total{x="1", y=~"b.*"}', "b:rec"])
        self.assertEqual(cq.selectors('{__name__=~"pg_.+"}'), ['{__name__=~"pg_.+"}'])

    def test_functions_aggregations_and_keywords_are_not_metrics(self):
        expr = ('histogram_quantile(0.95, sum by (service, le) (rate(h_bucket[5m])))\n'
                '  > bool on(service) group_left(state) max without (x) (g) unless count(c) by (le)')
        self.assertEqual(cq.selectors(expr), ["h_bucket", "g", "c"])
        self.assertEqual(cq.selectors("vector(1) + time() * 2e3 - inf"), [])
        self.assertEqual(cq.selectors("topk(5, sum(x offset 5m)) and y[5m:1m]"), ["x", "y"])

    def test_strings_and_comments_hide_their_contents(self):
        self.assertEqual(cq.selectors('label_replace(m{a="}{b"}, "dst", "not_a_metric", "src", "(.*)")'),
                         ['m{a="}{b"}'])
        self.assertEqual(cq.selectors("m # commented_out\n+ n"), ["m", "n"])


class Variables(unittest.TestCase):
    DASHBOARD = {"templating": {"list": [
        {"name": "datasource", "type": "datasource", "query": "prometheus"},
        {"name": "service", "type": "query", "multi": True, "includeAll": True},
        {"name": "pick", "type": "custom", "includeAll": True, "allValue": "a|b"},
        {"name": "one", "type": "query", "current": {"value": "db1"}},
        {"name": "step", "type": "interval", "current": {"value": "$__auto_interval_step"},
         "options": [{"value": "30s"}, {"value": "1m"}]},
        {"name": "fixed", "type": "constant", "query": "prod"},
    ]}}

    def test_dashboard_variables(self):
        values = cq.dashboard_variables(self.DASHBOARD, {"fixed": "staging"})
        self.assertEqual(values, {"datasource": "prometheus", "service": ".*", "pick": "a|b", "one": "db1",
                                  "step": "30s", "fixed": "staging"})

    def test_substitute_all_syntaxes(self):
        values = {"service": ".*", "step": "30s"}
        self.assertEqual(cq.substitute('rate(m{s=~"$service"}[$__rate_interval]) [[step]] ${step:text}', values),
                         'rate(m{s=~".*"}[1m]) 30s 30s')
        self.assertEqual(cq.substitute("$__interval $__range_s", {}), "15s 3600")
        with self.assertRaises(KeyError):
            cq.substitute('m{s="$servce"}', values)

    def test_variable_queries(self):
        self.assertEqual(cq.variable_query("label_values(db_pool_connections{x=\"a,b\"}, service)"),
                         'count by (service) (db_pool_connections{x="a,b"})')
        self.assertEqual(cq.variable_query("query_result(topk(3, m))"), "topk(3, m)")
        self.assertIsNone(cq.variable_query("label_values(service)"))


if __name__ == "__main__":
    unittest.main()
