"""One way to write files: atomically, through avemo.fileio, everywhere in the project."""

from __future__ import annotations

import ast
import os
import signal
import subprocess
import sys

import pytest

from avemo.fileio import atomic_path, atomic_write, temp_path
from tests.structure import PACKAGE_DIRS, REPO


def test_atomic_write_replaces_whole_content(tmp_path):
    target = tmp_path / "sub" / "index.json"
    atomic_write(target, "first\n")
    atomic_write(target, "second\r\n")  # newlines are written as given
    assert target.read_bytes() == b"second\r\n"
    atomic_write(target, b"\x00\x01")
    assert target.read_bytes() == b"\x00\x01"
    assert sorted(p.name for p in target.parent.iterdir()) == ["index.json"]


def test_a_failed_write_keeps_the_old_content_and_leaves_no_temp_file(tmp_path):
    target = tmp_path / "model.keras"
    target.write_text("old")
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        assert tmp.name.startswith("model.tmp-") and tmp.suffix == ".keras"  # libraries that choose by extension
        assert temp_path(target) != temp_path(target)  # unique: two writers of one target never share a file
        tmp.write_text("half")
        raise RuntimeError("crash mid-write")
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.keras"]


def test_a_killed_writer_never_leaves_a_partial_file_under_the_final_name(tmp_path):
    """kill -9 while a large file is being written: the target keeps its old content."""
    target = tmp_path / "big.bin"
    target.write_bytes(b"old")
    code = ("import sys, time; from avemo.fileio import atomic_path\n"
            "with atomic_path(sys.argv[1]) as tmp, open(tmp, 'wb') as fh:\n"
            "    fh.write(b'x' * 1000); fh.flush(); print('writing', flush=True); time.sleep(60)\n")
    proc = subprocess.Popen([sys.executable, "-c", code, str(target)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "writing"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert target.read_bytes() == b"old"


#: How a call names the path that ``atomic_path`` yields (``with atomic_path(p) as tmp``): writes
#: aimed at exactly that are the atomic ones.
ATOMIC_TARGETS = {"tmp", "str(tmp)", "os.fspath(tmp)"}


def bypassing_writes(source: str) -> list[str]:
    """Calls in ``source`` that write a file other than through avemo.fileio: os.replace or
    os.rename, write_text/write_bytes, open(..., 'w'), unless aimed at the ``tmp`` path that
    ``atomic_path`` yields (libraries that write to a path are handed that one)."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call):
            continue
        f = node.func
        name = f.attr if isinstance(f, ast.Attribute) else getattr(f, "id", "")
        owner = ast.unparse(f.value) if isinstance(f, ast.Attribute) else ""
        target = ast.unparse(node.args[0]) if node.args else ""
        mode = [a.value for a in node.args[1:2] if isinstance(a, ast.Constant)] + \
               [k.value.value for k in node.keywords if k.arg == "mode" and isinstance(k.value, ast.Constant)]
        writes = ((owner == "os" and name in ("replace", "rename"))
                  or (name in ("write_text", "write_bytes") and owner not in ATOMIC_TARGETS)
                  or (name == "open" and any(isinstance(m, str) and m[:1] in "wax" for m in mode)
                      and target not in ATOMIC_TARGETS))
        if writes:
            found.append(f"{node.lineno}: {ast.unparse(node)[:60]}")
    return found


def test_the_check_sees_bypassing_writes():
    src = ("import os\nos.replace(a, b)\np.write_text('x')\nopen(p, 'w')\nav.open(str(tmp), 'w')\n"
           "open(p)\ntmp.write_bytes(b'')\nreplace(cfg, x=1)\n"
           "open(tmp_report, 'w')\nopen(self.tmpdir / 'x', 'w')\nattempt.write_text('x')\n")
    # a name that merely contains "tmp" is no atomic write (lines 9-11)
    assert [f.split(":")[0] for f in bypassing_writes(src)] == ["2", "3", "4", "9", "10", "11"]


def test_no_writer_bypasses_avemo_fileio():
    found = [f"{path.relative_to(REPO)}:{f}" for folder in PACKAGE_DIRS for path in sorted((REPO / folder).glob("*.py"))
             if path != REPO / "avemo" / "fileio.py" for f in bypassing_writes(path.read_text())]
    assert found == []
