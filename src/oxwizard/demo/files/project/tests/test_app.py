"""The demo project's tests: they pass on oxzep7 1.4.2 and 1.5.0 and fail on 2.0.0,
and fail with alpha 2.0.0 and beta 2.0.0 together (either one alone passes)."""

import unittest

import oxzep7
from demoapp.app import ROOT, process
from demoapp.validate import problems


class ParseTest(unittest.TestCase):
    def test_parse_splits_and_strips(self):
        self.assertEqual(oxzep7.parse(" a, b ,c "), ["a", "b", "c"])

    def test_parse_empty(self):
        self.assertEqual(oxzep7.parse(""), [])

    def test_legacy_parse(self):
        self.assertEqual(oxzep7.legacy_parse("x,y"), ["x", "y"])


class RenderTest(unittest.TestCase):
    def test_render(self):
        from oxzep7.fmt import render

        self.assertEqual(render(["a", "b"]), "a | b")


class ThemeTest(unittest.TestCase):
    """beta's theme with alpha's settings: fine with either one upgraded, broken with both."""

    def test_theme(self):
        import beta

        self.assertEqual(beta.theme(), "teal")


class AppTest(unittest.TestCase):
    def test_process_records(self):
        lines = process(quiet=True)
        self.assertEqual(len(lines), 6)
        self.assertEqual(lines[0], "alpha: red | green")

    def test_process_logs_no_errors(self):
        log = ROOT / "logs" / "app.log"
        before = log.read_text(encoding="utf-8") if log.exists() else ""
        process()
        after = log.read_text(encoding="utf-8")[len(before) :]
        self.assertNotIn("ERROR", after)

    def test_data_is_valid(self):
        self.assertEqual(problems(ROOT / "data" / "records.csv", ROOT / "data" / "records.schema.json"), [])


if __name__ == "__main__":
    unittest.main()
