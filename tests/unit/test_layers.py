"""The layering docs/ARCHITECTURE.md describes: the core never imports gradio, and jobs never import stages."""
import ast
from pathlib import Path

LAB = Path(__file__).resolve().parents[2] / "lab"
STAGES = ("lab.data", "lab.train", "lab.merge", "lab.chat", "lab.hub", "lab.models", "lab.tour", "lab.ui")


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module)
    return names


def test_only_the_ui_imports_gradio():
    offenders = [str(p.relative_to(LAB)) for p in LAB.rglob("*.py") if "ui" not in p.relative_to(LAB).parts[:1]
                 and any(n == "gradio" or n.startswith("gradio.") for n in _imports(p))]
    assert offenders == []


def test_jobs_import_no_stage():
    stage = lambda name: any(name == s or name.startswith(s + ".") for s in STAGES)  # noqa: E731
    offenders = {str(p.relative_to(LAB)): sorted(filter(stage, _imports(p))) for p in (LAB / "jobs").glob("*.py")}
    assert {k: v for k, v in offenders.items() if v} == {}
