"""The floors docs/ARCHITECTURE.md describes, held for every module of lab/.

  ground    lab/*.py: imports only the ground floor
  platform  lab/jobs, lab/hub, lab/models: the ground floor and the platform (jobs: the ground floor only)
  stages    lab/data, chat, eval, train, merge, export, tour, serve, extract, in that order: a stage imports the floors below and
            the stages before it, never one after it
  faces     lab/ui, lab/__main__.py and each package's cli.py: anything below

Imports inside functions count as much as those at the top: no circle among modules, no import up a floor (or to a
later stage), and a function imports only a heavy library (or a lab module that loads one), with a `# heavy:`
comment saying so. The core never imports gradio. The checks run on a planted package too, so they can fail.
"""
import ast
from functools import cache
from pathlib import Path

LAB = Path(__file__).resolve().parents[2] / "lab"
PLATFORM = ("jobs", "hub", "models")
STAGES = ("data", "chat", "eval", "train", "merge", "export", "tour", "runs", "serve", "extract")
HEAVY = {"torch", "transformers", "trl", "peft", "datasets", "accelerate", "bitsandbytes", "mergekit", "lm_eval",
         "sentence_transformers", "sklearn", "scipy", "plotly", "pandas", "pyarrow", "matplotlib", "gguf", "datatrove",
         "safetensors.torch", "huggingface_hub", "httpx2", "math_verify", "unsloth", "liger_kernel", "vllm", "trackio",
         "cma"}


def modules(root: Path) -> dict[str, Path]:
    out = {}
    for f in sorted(root.rglob("*.py")):
        parts = list(f.with_suffix("").relative_to(root.parent).parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = f
    return out


def _target(name: str, mods: dict) -> str | None:
    while name:
        if name in mods:
            return name
        name = name.rpartition(".")[0]
    return None


def _in_function(node, parents) -> bool:
    while node in parents:
        node = parents[node]
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            return True
    return False


def imports(root: Path) -> list[dict]:
    """Every import statement of the package: its module, line, lab targets, other names, and where it runs."""
    mods, out = modules(root), []
    for m, f in mods.items():
        text = f.read_text()
        tree, lines = ast.parse(text), text.splitlines()
        parents = {c: p for p in ast.walk(tree) for c in ast.iter_child_nodes(p)}
        here = m if f.name == "__init__.py" else m.rpartition(".")[0]
        for node in ast.walk(tree):
            if not isinstance(node, (ast.Import, ast.ImportFrom)):
                continue
            labs, libs = set(), set()
            if isinstance(node, ast.Import):
                for a in node.names:
                    t = _target(a.name, mods) if a.name.split(".")[0] == root.name else None
                    (labs.add(t) if t else libs.add(a.name))
            else:
                base = node.module or ""
                if node.level:
                    up = here.split(".")
                    base = ".".join(up[: len(up) - (node.level - 1)] + ([base] if base else []))
                for a in node.names:
                    if base.split(".")[0] == root.name:
                        labs.add(_target(f"{base}.{a.name}", mods) or _target(base, mods))
                    else:
                        libs.add(f"{base}.{a.name}")
            out.append({"module": m, "line": node.lineno, "text": lines[node.lineno - 1], "libs": libs,
                        "labs": {t for t in labs if t and t != m}, "lazy": _in_function(node, parents)})
    return out


def edges(found: list[dict]) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for imp in found:
        out.setdefault(imp["module"], set()).update(imp["labs"])
    return out


def circles(found: list[dict], mods: dict) -> list[list[str]]:
    """Strongly connected components of two or more modules (circles.py's check), a package's __init__ handing
    its own submodules' names on excepted."""
    graph = {m: edges(found).get(m, set()) for m in mods}
    index, low, stack, on, out = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in graph:
        if v not in index:
            visit(v)
    nested = lambda x, c: mods[x].name == "__init__.py" or any(  # noqa: E731
        x.startswith(y + ".") or y.startswith(x + ".") for y in c if y != x)
    return [c for c in out if not all(nested(x, c) for x in c)]


def floor(module: str) -> tuple[int, int]:
    """(floor, rank within it): ground 0, platform 1 (jobs below hub and models), stages 2 (in STAGES order),
    faces 3."""
    parts = module.split(".")
    if parts[-1] in ("cli", "__main__") or (len(parts) > 1 and parts[1] == "ui"):
        return 3, 0
    if len(parts) == 1 or (len(parts) == 2 and parts[1] not in PLATFORM + STAGES):
        return 0, 0
    if parts[1] in PLATFORM:
        return 1, 0 if parts[1] == "jobs" else 1
    return 2, STAGES.index(parts[1])


def upward(found: list[dict]) -> list[str]:
    """Imports that reach a higher floor, or a later stage (a stage's own package is its own floor)."""
    out = []
    for imp in found:
        a = floor(imp["module"])
        for t in imp["labs"]:
            b = floor(t)
            same_room = a[0] == b[0] == 2 and t.split(".")[1] == imp["module"].split(".")[1]
            if b > a and not same_room and not (a[0] == b[0] == 1 and a[1] == b[1]):
                out.append(f"{imp['module']}:{imp['line']} -> {t}")
    return out


def heavy_library(name: str) -> str | None:
    parts = name.split(".")
    return next((".".join(parts[:i]) for i in range(len(parts), 0, -1) if ".".join(parts[:i]) in HEAVY), None)


def heavy_modules(found: list[dict], mods: dict) -> set[str]:
    """lab modules that load a heavy library when imported (their top-level imports, their packages' too)."""
    ancestors = lambda m: {".".join(m.split(".")[:i]) for i in range(1, m.count(".") + 1)} & set(mods)  # noqa
    loads = {m: ancestors(m) for m in mods}
    heavy = set()
    for imp in found:
        if not imp["lazy"]:
            loads[imp["module"]] |= {x for t in imp["labs"] for x in {t, *ancestors(t)}}
            if any(heavy_library(lib) for lib in imp["libs"]):
                heavy.add(imp["module"])
    grew = True
    while grew:
        grew = False
        for m in mods:
            if m not in heavy and loads[m] & heavy:
                heavy.add(m)
                grew = True
    return heavy


def lazy_offenders(found: list[dict], mods: dict) -> list[str]:
    """Imports inside functions that load nothing heavy, or say not why they wait."""
    heavy = heavy_modules(found, mods)
    out = []
    for imp in found:
        if not imp["lazy"]:
            continue
        is_heavy = any(heavy_library(lib) for lib in imp["libs"]) or any(t in heavy for t in imp["labs"])
        if not is_heavy:
            out.append(f"{imp['module']}:{imp['line']}: {imp['text'].strip()} (light: import it at the top)")
        elif "# heavy" not in imp["text"]:
            out.append(f"{imp['module']}:{imp['line']}: {imp['text'].strip()} (no `# heavy: …` comment)")
    return out


@cache
def _lab() -> tuple[list[dict], dict[str, Path]]:
    return imports(LAB), modules(LAB)


def test_no_import_circle():
    assert circles(*_lab()) == []


def test_no_import_goes_up_a_floor_or_to_a_later_stage():
    assert upward(_lab()[0]) == []


def test_imports_inside_functions_are_heavy_and_say_so():
    assert lazy_offenders(*_lab()) == []


def test_only_the_ui_imports_gradio():
    offenders = [f"{i['module']}:{i['line']}" for i in _lab()[0] if i["module"].split(".")[:2] != ["lab", "ui"]
                 and any(lib == "gradio" or lib.startswith("gradio.") for lib in i["libs"])]
    assert offenders == []


def test_jobs_import_no_stage():
    offenders = [f"{i['module']}:{i['line']} -> {t}" for i in _lab()[0] if i["module"].startswith("lab.jobs")
                 for t in i["labs"] if floor(t)[0] > 1]
    assert offenders == []


def test_every_stage_and_face_has_a_floor():
    packages = {p.name for p in LAB.iterdir() if p.is_dir() and (p / "__init__.py").is_file()}
    assert packages == set(PLATFORM) | set(STAGES) | {"ui"}, "a new package needs its floor in this test and the docs"


def _plant(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / "lab" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root / "lab"


def test_the_checks_catch_a_circle_an_upward_import_and_a_light_lazy_import(tmp_path):
    lab = _plant(tmp_path, {
        "__init__.py": "", "settings.py": "from lab.jobs import store\n", "util.py": "",
        "jobs/__init__.py": "", "jobs/store.py": "def f():\n    from lab import settings\n",
        "data/__init__.py": "", "data/load.py": "from lab.train import recipe\n",
        "train/__init__.py": "", "train/recipe.py": "def g():\n    import torch\n    from lab import util\n",
        "train/model.py": "import torch\n", "train/run.py": "def h():\n    from lab.train import model  # heavy: torch\n",
    })
    found, mods = imports(lab), modules(lab)
    assert circles(found, mods) == [["lab.jobs.store", "lab.settings"]]  # a function's import closes it
    assert sorted(upward(found)) == ["lab.data.load:1 -> lab.train.recipe", "lab.settings:1 -> lab.jobs.store"]
    assert lazy_offenders(found, mods) == [
        "lab.jobs.store:2: from lab import settings (light: import it at the top)",
        "lab.train.recipe:2: import torch (no `# heavy: …` comment)",
        "lab.train.recipe:3: from lab import util (light: import it at the top)",
    ]
