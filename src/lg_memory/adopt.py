"""Durable memory for an agent that exists: what setup finds in a project, and the few edits it
makes to the project's own files.

`lg-memory setup` (and `copier copy`, through `extensions/adopt.py`) renders three new files
into an existing LangGraph project: the wiring module in the project's own package, a test
module and `docs/memory.md`. Everything else it changes is one of these, extended in place:

- `pyproject.toml`: `lg-memory[<backend>]` joins `[project].dependencies` (a hatchling project
  also gets `allow-direct-references`, without which it cannot build a git requirement);
  a project with only `requirements.txt` gets the line there;
- `langgraph.json`: a `checkpointer` key (the Agent Server's `checkpointer.path`);
- `.gitignore`, `.env.example`, `.env`: the lines they lack.

Each edit is text inserted into the file as it is (comments, order and layout stay), then
parsed back and compared with the original: the only difference allowed is the one intended.
Everything is computed before anything is written, so a refusal leaves the project as it was.

Standard library only: Copier's interpreter loads this file by its path.
"""

from __future__ import annotations

import ast
import difflib
import json
import re
import subprocess
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

ANSWERS_FILE = ".copier-answers.lg-memory.yml"
HANDOFF = Path(".lg-memory") / "adopt.json"  # what Copier hands to `apply` (see copier.yml)
TEST_MODULE = "test_checkpointer.py"
SKIP_DIRS = {".git", ".venv", "venv", "node_modules", "__pycache__", ".tox", "build", "dist"}
# calls that make a runnable graph and take `checkpointer=`
COMPILERS = {"compile", "create_agent", "create_react_agent", "create_deep_agent"}
LANGGRAPH_IMPORT = re.compile(r"^\s*(from|import)\s+langgraph\b", re.MULTILINE)


class Refusal(Exception):
    """Setup cannot go on: one line that says what to do. Nothing has been written."""


@dataclass
class Project:
    """An existing LangGraph project, as setup sees it."""

    root: Path
    name: str  # the distribution's name, else the folder's
    package_name: str  # the import name of its own package
    package_dir: str  # that package's folder, relative ("src/agent")
    tests_dir: str  # where its tests live ("tests/integration_tests")
    graphs: dict[str, str] = field(default_factory=dict)  # langgraph.json's, if it has one
    requirements: bool = False  # a requirements.txt and no pyproject.toml dependencies

    @property
    def memory_module(self) -> str:
        return f"{self.package_name}.memory"


# --- What is there -------------------------------------------------------------------------


def kind(dst: str | Path) -> str:
    """`new` for an empty folder (or one lg-memory rendered), `existing` for a project to
    adopt; raises Refusal for a folder that is neither."""
    root = Path(dst)
    if not root.exists() or not any(p.name != ".git" for p in root.iterdir()):
        return "new"
    if _ours(root / ".copier-answers.yml"):
        return "new"
    if (root / ANSWERS_FILE).is_file():
        return "existing"
    inspect(root)
    return "existing"


def _ours(path: Path) -> bool:
    """Whether a Copier answers file is lg-memory's own (a new project's)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        return False
    keys = {line.split(":", 1)[0] for line in text.splitlines()}
    return {"preset", "package_name"} <= keys


def inspect(root: Path, *, git: bool = True, check: bool = True) -> Project:
    """The project at `root`, or a Refusal naming what is wrong. `check`: also refuse what
    would overwrite the project's own files (off once setup has rendered its own)."""
    root = root.resolve()
    pyproject_path, requirements_path = root / "pyproject.toml", root / "requirements.txt"
    if not pyproject_path.is_file() and not requirements_path.is_file():
        raise Refusal(
            f"{root} has no pyproject.toml or requirements.txt: run setup in the root of a "
            "LangGraph project, or give a new directory to create one"
        )
    pyproject = _toml(pyproject_path) if pyproject_path.is_file() else None
    graphs = _graphs(root)
    if not graphs and not _imports_langgraph(root, pyproject, requirements_path):
        raise Refusal(
            f"{root} does not look like a LangGraph project (no langgraph.json, no langgraph "
            "import, no langgraph dependency): run setup in your agent's project root"
        )
    if git:
        require_clean_git(root)
    package_name, package_dir = _package(root, pyproject, graphs)
    deps = ((pyproject or {}).get("project") or {}).get("dependencies")
    dynamic = "dependencies" in ((pyproject or {}).get("project") or {}).get("dynamic", [])
    requirements = pyproject is None or (dynamic and deps is None)
    if requirements and requirements_path.is_file():
        try:
            requirements_path.read_text(encoding="utf-8")
        except UnicodeDecodeError as exc:
            raise Refusal(
                f"cannot parse requirements.txt: {exc}; fix it, then run setup again"
            ) from None
    if requirements and not requirements_path.is_file():
        raise Refusal(
            "pyproject.toml declares its dependencies dynamic and there is no requirements.txt: "
            "add lg-memory to your dependencies by hand, then run setup again"
        )
    if pyproject is not None and not requirements and "project" not in pyproject:
        raise Refusal(
            "pyproject.toml has no [project] table (a Poetry 1 project?): add a [project] table "
            "with your dependencies, then run setup again"
        )
    tests = "tests/integration_tests" if (root / "tests/integration_tests").is_dir() else "tests"
    name = str(((pyproject or {}).get("project") or {}).get("name") or root.name)
    project = Project(root, name, package_name, package_dir, tests, graphs, bool(requirements))
    for added in new_files(project) if check else ():
        if (root / added).exists():
            raise Refusal(
                f"setup would overwrite {added}, which is yours: rename it, then run setup again"
            )
    checkpointer = _langgraph_json(root).get("checkpointer") if graphs and check else None
    if isinstance(checkpointer, dict) and checkpointer.get("path") not in (
        None,
        f"{project.memory_module}.aopen_checkpointer",
    ):
        raise Refusal(
            f"langgraph.json already names a checkpointer ({checkpointer.get('path')}): remove "
            "its `checkpointer` key to let lg-memory wire one, then run setup again"
        )
    return project


def new_files(project: Project) -> list[str]:
    """The files setup adds (a custom saver's `saver.py` aside)."""
    return [
        f"{project.package_dir}/memory.py",
        f"{project.tests_dir}/{TEST_MODULE}",
        "docs/memory.md",
    ]


def _toml(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise Refusal(f"cannot parse {path.name}: {exc}; fix it, then run setup again") from None


def _langgraph_json(root: Path) -> dict[str, Any]:
    path = root / "langgraph.json"
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise Refusal(f"cannot parse langgraph.json: {exc}; fix it, then run setup again") from None
    if not isinstance(data, dict):
        raise Refusal("langgraph.json is not a JSON object: fix it, then run setup again")
    return data


def _graphs(root: Path) -> dict[str, str]:
    graphs = _langgraph_json(root).get("graphs") or {}
    found: dict[str, str] = {}
    for name, spec in graphs.items() if isinstance(graphs, dict) else ():
        path = spec.get("path") if isinstance(spec, dict) else spec
        if isinstance(path, str):
            found[str(name)] = path
    return found


def python_files(root: Path) -> Iterable[Path]:
    """The project's own Python files (no virtual environments, builds or caches)."""
    stack = [root]
    while stack:
        folder = stack.pop()
        for path in sorted(folder.iterdir()):
            if path.is_dir():
                if path.name not in SKIP_DIRS and not path.name.startswith("."):
                    stack.append(path)
            elif path.suffix == ".py":
                yield path


def _imports_langgraph(root: Path, pyproject: dict[str, Any] | None, requirements: Path) -> bool:
    declared = list(((pyproject or {}).get("project") or {}).get("dependencies") or [])
    if requirements.is_file():
        declared += requirements.read_text(encoding="utf-8", errors="replace").splitlines()
    if any(re.match(r"\s*(langgraph|langchain)\b", d) for d in declared):
        return True
    for path in python_files(root):
        if LANGGRAPH_IMPORT.search(path.read_text(encoding="utf-8", errors="replace")):
            return True
    return False


def require_clean_git(root: Path) -> None:
    status = _git(root, "status", "--porcelain")
    if status is None:
        raise Refusal(
            f"{root} is not under git: commit it first (git init && git add -A && git commit), "
            "so that what setup changes can be reviewed and undone"
        )
    if status.strip():
        raise Refusal(f"{root} has uncommitted changes: commit or stash them, then run setup again")


def _package(
    root: Path, pyproject: dict[str, Any] | None, graphs: dict[str, str]
) -> tuple[str, str]:
    """(import name, folder) of the project's own package."""
    mapped = _package_dirs(pyproject or {})
    candidates: list[str] = []  # folders, best first
    for spec in graphs.values():
        target = spec.split(":", 1)[0]
        if target.endswith(".py") or "/" in target:
            holder = PurePosixPath(target.removeprefix("./")).parent
            # the top package folder holding the graph's file
            while holder != PurePosixPath(".") and (root / holder.parent / "__init__.py").is_file():
                holder = holder.parent
            candidates.append(str(holder))
        else:
            top = target.split(".", 1)[0]
            candidates += [f for f, names in mapped.items() if top in names]
            candidates += [f"src/{top}", top]
    candidates += list(mapped)
    if (root / "src").is_dir():
        candidates += [f"src/{p.name}" for p in sorted((root / "src").iterdir())]
    for folder in candidates:
        path = root / folder
        if folder not in ("", ".") and (path / "__init__.py").is_file():
            names = [n for n in mapped.get(folder, []) if n.isidentifier()]
            name = names[0] if names else path.name
            if name.isidentifier():
                return name, folder
    raise Refusal(
        "cannot find the project's package (a folder with __init__.py, e.g. src/agent/): setup "
        "adds memory.py to it; move your graph into a package, then run setup again"
    )


def _package_dirs(pyproject: dict[str, Any]) -> dict[str, list[str]]:
    """Package folders the build backend declares, with their import names."""
    tool = pyproject.get("tool") or {}
    found: dict[str, list[str]] = {}
    setuptools = tool.get("setuptools") or {}
    for name, folder in (setuptools.get("package-dir") or {}).items():
        if name:
            found.setdefault(str(folder).removeprefix("./"), []).append(name)
    wheel = ((tool.get("hatch") or {}).get("build") or {}).get("targets", {}).get("wheel", {})
    for folder in wheel.get("packages") or []:
        found.setdefault(str(folder).removeprefix("./"), []).append(PurePosixPath(folder).name)
    uv = (tool.get("uv") or {}).get("build-backend") or {}
    if uv.get("module-name"):
        name = str(uv["module-name"])
        found.setdefault(f"{uv.get('module-root', 'src')}/{name}".lstrip("/"), []).append(name)
    # names sort: plain identifiers (the import name) before dotted aliases
    return {f: sorted(n, key=lambda x: ("." in x, x)) for f, n in found.items()}


# --- The edits -----------------------------------------------------------------------------


@dataclass
class Wanted:
    """What the edits put in: computed by the template from the answers (see HANDOFF)."""

    requirement: str  # "lg-memory[sqlite] @ git+https://...@<commit>"
    checkpointer: dict[str, Any] | None  # langgraph.json's `checkpointer`, None: no key
    env: dict[str, str]  # .env variables (the connection string among them)
    env_default: dict[str, str]  # their defaults: a default never replaces a value set before
    env_example: list[str]  # .env.example lines
    ignore: list[str]  # paths .gitignore must cover


def edits(project: Project, wanted: Wanted) -> dict[str, str]:
    """{relative path: new text} for every file setup extends; each checked by parsing."""
    changed: dict[str, str] = {}
    if project.requirements:
        changed["requirements.txt"] = _requirements(project.root / "requirements.txt", wanted)
    else:
        changed["pyproject.toml"] = _pyproject(project.root / "pyproject.toml", wanted)
    if project.graphs and (text := _with_checkpointer(project.root, wanted.checkpointer)):
        changed["langgraph.json"] = text
    changed[".gitignore"] = _gitignore(project.root, wanted.ignore)
    changed[".env.example"] = _env_example(project.root / ".env.example", wanted.env_example)
    changed[".env"] = _env(project.root / ".env", wanted.env, wanted.env_default)
    return {k: v for k, v in changed.items() if _read(project.root / k) != v}


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None


def requirement_name(line: str) -> str:
    match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", line)
    return re.sub(r"[-_.]+", "-", match[1]).lower() if match else ""


def _requirements(path: Path, wanted: Wanted) -> str:
    lines = path.read_text(encoding="utf-8").splitlines()
    ours = [i for i, line in enumerate(lines) if requirement_name(line) == "lg-memory"]
    if ours:
        lines[ours[0]] = wanted.requirement
    else:
        lines += ["# durable memory for the graph (lg-memory setup)", wanted.requirement]
    return "\n".join(lines) + "\n"


def _pyproject(path: Path, wanted: Wanted) -> str:
    text = path.read_text(encoding="utf-8")
    before = tomllib.loads(text)
    deps = list(before["project"].get("dependencies") or [])
    ours = [d for d in deps if requirement_name(d) == "lg-memory"]
    if ours:  # set up before: the backend (the extra) or the commit changes
        new = _replace_string(text, ours[0], wanted.requirement)
    else:
        new = _add_dependency(text, wanted.requirement)
    hatch = (before.get("build-system") or {}).get("build-backend") == "hatchling.build"
    if hatch and "@" in wanted.requirement and not _allows_direct(before):
        new = new.rstrip("\n") + (
            "\n\n[tool.hatch.metadata]\n"
            "allow-direct-references = true  # lg-memory comes from git until it is published\n"
        )
    expected = json.loads(json.dumps(before))
    expected["project"]["dependencies"] = [
        wanted.requirement if requirement_name(d) == "lg-memory" else d for d in deps
    ] + ([] if ours else [wanted.requirement])
    if hatch and "@" in wanted.requirement:
        tool = expected.setdefault("tool", {}).setdefault("hatch", {})
        tool.setdefault("metadata", {})["allow-direct-references"] = True
    try:
        after = tomllib.loads(new)
    except tomllib.TOMLDecodeError:
        after = None
    if after != expected:
        raise Refusal(
            "cannot add lg-memory to pyproject.toml's dependencies safely: add "
            f'"{wanted.requirement}" to [project].dependencies by hand, then run setup again'
        )
    return new


def _allows_direct(pyproject: dict[str, Any]) -> bool:
    hatch = (pyproject.get("tool") or {}).get("hatch") or {}
    return bool((hatch.get("metadata") or {}).get("allow-direct-references"))


def _replace_string(text: str, old: str, new: str) -> str:
    for quote in ('"', "'"):
        if f"{quote}{old}{quote}" in text:
            return text.replace(f"{quote}{old}{quote}", json.dumps(new), 1)
    return text


def _add_dependency(text: str, requirement: str) -> str:
    """`requirement` appended to [project].dependencies, in the array's own layout."""
    lines = text.splitlines(keepends=True)
    table = None
    for i, line in enumerate(lines):
        header = re.match(r"\s*\[([^\[\]]+)\]\s*(#.*)?$", line)
        if header:
            table = header[1].strip()
        elif table == "project" and re.match(r"\s*dependencies\s*=", line):
            return "".join(lines[:i]) + _append_to_array("".join(lines[i:]), requirement)
        elif line.lstrip().startswith("[["):
            table = None
    # no dependencies key: one after the [project] header
    for i, line in enumerate(lines):
        if re.match(r"\s*\[project\]\s*(#.*)?$", line):
            entry = f"dependencies = [{json.dumps(requirement)}]\n"
            return "".join(lines[: i + 1]) + entry + "".join(lines[i + 1 :])
    return text


def _append_to_array(text: str, item: str) -> str:
    """`text` starts with `dependencies = [...`: the array gains `item` as its last element."""
    start = text.index("[")
    depth, i, quote = 0, start, ""
    while i < len(text):
        char = text[i]
        if quote:
            if char == "\\" and quote == '"':
                i += 1
            elif text.startswith(quote, i):
                quote = ""
        elif char in "\"'":
            quote = char
        elif char == "#":
            i = text.index("\n", i) if "\n" in text[i:] else len(text)
            continue
        elif char == "[":
            depth += 1
        elif char == "]":
            depth -= 1
            if depth == 0:
                break
        i += 1
    body = text[start + 1 : i]
    literal = json.dumps(item)
    if "\n" not in body:  # dependencies = ["a", "b"]
        inner = body.strip()
        sep = "" if not inner or inner.endswith(",") else ", "
        return text[: start + 1] + (inner + sep + literal) + text[i:]
    # multi-line: a line of its own, indented as the others
    items = [ln for ln in body.splitlines() if ln.strip() and not ln.strip().startswith("#")]
    indent = re.match(r"\s*", items[-1])[0] if items else "    "  # type: ignore[index]
    head = body.rstrip(" \t")
    last_code = _last_code(head)
    if last_code is not None and not head[: last_code + 1].rstrip().endswith((",", "[")):
        head = head[: last_code + 1] + "," + head[last_code + 1 :]
    if not head.endswith("\n"):
        head += "\n"
    return text[: start + 1] + head + f"{indent}{literal},\n" + text[i:]


def _last_code(body: str) -> int | None:
    """Index of the last character of the array's last element (comments skipped)."""
    for line_start in reversed([m.start() for m in re.finditer(r"^", body, re.MULTILINE)]):
        line = body[line_start:].split("\n", 1)[0]
        code = re.sub(r"\s*#[^\"']*$", "", line).rstrip()
        if code.strip():
            return line_start + len(code) - 1
    return None


def _with_checkpointer(root: Path, checkpointer: dict[str, Any] | None) -> str | None:
    path = root / "langgraph.json"
    text = path.read_text(encoding="utf-8")
    data = json.loads(text)
    if data.get("checkpointer") == checkpointer:
        return None
    if checkpointer is None:  # switched to the in-memory type: the server keeps its threads
        return _without(data, text) if "checkpointer" in data else None
    expected = {**data, "checkpointer": checkpointer}
    if "checkpointer" in data:  # ours, with other settings: rewritten in the file's indent
        new = json.dumps(expected, indent=_indent(text), ensure_ascii=False) + "\n"
    else:
        indent = _indent(text)
        block = json.dumps(checkpointer, indent=indent, ensure_ascii=False)
        block = block.replace("\n", "\n" + " " * indent)
        end = text.rindex("}")
        head = text[:end].rstrip()
        sep = "" if head.endswith("{") else ","
        new = f'{head}{sep}\n{" " * indent}"checkpointer": {block}\n{text[end:]}'
    if json.loads(new) != expected:
        raise Refusal("cannot add `checkpointer` to langgraph.json safely: add it by hand")
    return new


def _without(data: dict[str, Any], text: str) -> str:
    """langgraph.json without its checkpointer (switched to the in-memory type)."""
    rest = {k: v for k, v in data.items() if k != "checkpointer"}
    return json.dumps(rest, indent=_indent(text), ensure_ascii=False) + "\n"


def _indent(text: str) -> int:
    match = re.search(r'\n( +)"', text)
    return len(match[1]) if match else 2


def _gitignore(root: Path, paths: list[str]) -> str:
    path = root / ".gitignore"
    text = _read(path) or ""
    missing = [p for p in paths if not _ignored(root, p, text)]
    if not missing:
        return text
    lead = "" if not text else ("\n" if text.endswith("\n") else "\n\n")
    return (
        text
        + lead
        + "# lg-memory: secrets, local checkpoints, backups\n"
        + "\n".join(missing)
        + "\n"
    )


def _ignored(root: Path, pattern: str, text: str) -> bool:
    if pattern in (line.strip() for line in text.splitlines()):
        return True
    probe = pattern.strip("/").rstrip("*") or pattern
    done = subprocess.run(
        ["git", "check-ignore", "-q", "--no-index", probe],
        cwd=root,
        capture_output=True,
        check=False,
    )
    return done.returncode == 0


def _env_example(path: Path, lines: list[str]) -> str:
    text = _read(path) or ""
    named = set(re.findall(r"^\s*#?\s*([A-Z][A-Z0-9_]*)=", text, re.MULTILINE))
    missing = [
        ln for ln in lines if (m := re.match(r"#?\s*([A-Z][A-Z0-9_]*)=", ln)) and m[1] not in named
    ]
    if not missing:
        return text
    lead = "" if not text else ("\n" if text.endswith("\n") else "\n\n")
    header = "# lg-memory: the checkpointer (see docs/memory.md)\n"
    return text + lead + header + "\n".join(missing) + "\n"


def _env(path: Path, values: dict[str, str], defaults: dict[str, str]) -> str:
    """.env with each variable set: a line replaced in place (unless by its default), or
    appended."""
    text = _read(path) or ""
    lines = text.splitlines()
    for name, value in values.items():
        at = [i for i, line in enumerate(lines) if re.match(rf"\s*(export\s+)?{name}\s*=", line)]
        if at and value != defaults.get(name):
            lines[at[-1]] = f"{name}={value}"
        elif at:
            continue
        else:
            lines.append(f"{name}={value}")
    return "\n".join(lines) + "\n" if lines else text


def write(root: Path, changed: dict[str, str]) -> None:
    """Write every edit (each file whole, through a temporary file renamed over it)."""
    for relative, text in changed.items():
        path = root / relative
        tmp = path.with_name(f".{path.name}.lg-memory-tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(path)


# --- Self-hosted graphs: the compile call -----------------------------------------------------


@dataclass
class CompileSite:
    """A module-level `graph = builder.compile(...)` (or `create_agent(...)`) without a
    checkpointer."""

    path: Path
    variable: str
    call: ast.Call

    def spec(self, root: Path) -> str:
        return f"{self.path.relative_to(root).as_posix()}:{self.variable}"


def compile_sites(root: Path) -> list[CompileSite]:
    """Graphs a script compiles itself (the ones langgraph.json serves are the server's)."""
    found = []
    for path in python_files(root):
        if "tests" in path.relative_to(root).parts:
            continue
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"))
        except (SyntaxError, UnicodeDecodeError, ValueError):
            continue
        for node in tree.body:
            target = (
                node.targets[0]
                if isinstance(node, ast.Assign) and len(node.targets) == 1
                else (node.target if isinstance(node, ast.AnnAssign) else None)
            )
            call = node.value if isinstance(node, ast.Assign | ast.AnnAssign) else None
            if (
                isinstance(target, ast.Name)
                and isinstance(call, ast.Call)
                and _callee(call) in COMPILERS
                and not any(k.arg in ("checkpointer", None) for k in call.keywords)
            ):
                found.append(CompileSite(path, target.id, call))
    return found


def _callee(call: ast.Call) -> str:
    func = call.func
    return func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")


def served(root: Path, project: Project, site: CompileSite) -> bool:
    """Whether langgraph.json serves this graph (the server then brings the checkpointer)."""
    relative = site.path.relative_to(root).as_posix()
    module = relative.removesuffix(".py").replace("/", ".")
    for spec in project.graphs.values():
        target, _, attr = spec.partition(":")
        if attr == site.variable and (
            target.removeprefix("./") == relative or module.endswith(target)
        ):
            return True
    return False


def wire(
    root: Path, project: Project, spec: str, interrupt_before: list[str]
) -> tuple[Path, str, str]:
    """(file, new text, unified diff) of the compile call `spec` (`path.py:variable`) given
    the project's checkpointer."""
    file, _, variable = spec.partition(":")
    path = (root / file).resolve()
    sites = [
        s
        for s in compile_sites(root)
        if s.path == path and (not variable or s.variable == variable)
    ]
    if not sites:
        raise Refusal(
            f"no module-level `{variable or '<variable>'} = <builder>.compile(...)` without a "
            f"checkpointer in {file}: give --wire FILE.py:VARIABLE"
        )
    site = sites[0]
    text = path.read_text(encoding="utf-8")
    tree = ast.parse(text)
    bound = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)} | {
        a.asname or a.name for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) for a in n.names
    }
    name = "checkpointer" if "checkpointer" not in bound else "lg_memory_checkpointer"
    lines = text.splitlines(keepends=True)
    call = site.call
    end_line, end_col = call.end_lineno - 1, call.end_col_offset - 1  # type: ignore[operator]
    closing = lines[end_line]
    assert closing[end_col] == ")"
    extra = [f"checkpointer={name}()"]
    if interrupt_before:
        extra.append(f"interrupt_before={interrupt_before!r}")
    has_args = bool(call.args or call.keywords)
    before_paren = closing[:end_col]
    if (
        has_args
        and "\n" in "".join(lines[call.lineno - 1 : end_line + 1])
        and not before_paren.strip()
    ):
        # the call spans lines and closes on a line of its own: one argument per line
        indent = re.match(r"\s*", lines[end_line - 1])[0]  # type: ignore[index]
        prev = lines[end_line - 1].rstrip("\n")
        if not prev.rstrip().endswith(","):
            lines[end_line - 1] = prev + ",\n"
        lines[end_line] = "".join(f"{indent}{arg},\n" for arg in extra) + closing
    else:
        sep = ", " if has_args and not before_paren.rstrip().endswith(",") else ""
        lines[end_line] = before_paren + sep + ", ".join(extra) + closing[end_col:]
    importer = f"from {project.memory_module} import checkpointer"
    importer += f" as {name}\n" if name != "checkpointer" else "\n"
    at, text_ = _import_place(tree, project.package_name, project.memory_module, importer)
    lines.insert(at, text_)
    new = "".join(lines)
    try:
        ast.parse(new)
    except SyntaxError:
        raise Refusal(
            f"cannot change the compile call in {file} safely: change it by hand"
        ) from None
    diff = "".join(
        difflib.unified_diff(
            text.splitlines(keepends=True), new.splitlines(keepends=True), f"a/{file}", f"b/{file}"
        )  # fmt: skip
    )
    return path, new, diff


def _import_place(tree: ast.Module, package: str, module: str, line: str) -> tuple[int, str]:
    """Where the import of the wiring module goes, and its text, as isort would have it: among
    the package's own imports, else in a group of its own before relative imports or after
    the last import."""
    imports = [n for n in tree.body if isinstance(n, ast.Import | ast.ImportFrom)]
    own = [
        n
        for n in imports
        if isinstance(n, ast.ImportFrom)
        and n.level == 0
        and (n.module or "").split(".")[0] == package
    ]
    if own:
        later = [n for n in own if (n.module or "") > module]
        return (later[0].lineno - 1, line) if later else (own[-1].end_lineno or 0, line)
    relative = [n for n in imports if isinstance(n, ast.ImportFrom) and n.level > 0]
    if relative:
        return relative[0].lineno - 1, line + "\n"
    last = max((n.end_lineno or 0 for n in imports), default=0)
    return last, ("\n" + line) if imports else line


def _git(cwd: Path, *args: str) -> str | None:
    try:
        done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=False)
    except OSError:
        return None
    return done.stdout if done.returncode == 0 else None
