"""No shell anywhere (docs/SECURITY.md): drover's sources never hand a string to a shell.
Commands, hooks and probes are argv arrays executed with execve(2); nothing in src/, lib/
or include/ calls system(3), popen(3), an exec*p(3) that searches PATH the shell's way, or
names /bin/sh. A check of the tree, so it fails the moment such a call is added."""
import re

from conftest import REPO

FORBIDDEN = re.compile(r"\b(system|popen|execl|execlp|execvp|execvpe|posix_spawnp)\s*\(|\"/bin/(ba)?sh\"")


def test_no_source_file_calls_a_shell():
    found = []
    files = [p for d in ("src", "lib", "include") for p in (REPO / d).rglob("*") if p.suffix in (".c", ".h")]
    assert len(files) > 50, files  # the tree is there
    for path in files:
        for n, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
            code = line.split("//", 1)[0]
            if FORBIDDEN.search(code) and not code.lstrip().startswith(("*", "/*")):
                found.append(f"{path.relative_to(REPO)}:{n}: {line.strip()}")
    assert not found, "a shell call in drover's sources:\n" + "\n".join(found)
