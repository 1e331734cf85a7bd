"""Where things are: the project, the shared sample payloads beside it, the test data folders."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"
# ../shared/payloads sits beside the project checkout (CI clones main with shared/ beside it).
PAYLOADS = ROOT.parent / "shared" / "payloads"
SPECS = ROOT / "tests" / "specs"  # specs for shapes no preset covers (and the CLI's examples)
FIXTURES = ROOT / "tests" / "fixtures"
