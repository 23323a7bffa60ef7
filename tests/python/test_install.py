"""`cmake --install` puts the package where python3 finds it: installed (into a temporary DESTDIR)
for the default prefix /usr/local, it lands in a folder that this python3 searches, and imports and
steps from there (a fresh interpreter, without the build tree on its path)."""

import os
import subprocess
import sys
import tempfile

import pytest

BUILD = os.environ.get("APIARY_BINARY_DIR", "")
CMAKE = os.environ.get("APIARY_CMAKE_COMMAND", "")
pytestmark = pytest.mark.skipif(not (BUILD and CMAKE), reason="run by ctest, which names the build and cmake")


def test_install_goes_where_python_looks():
    with tempfile.TemporaryDirectory() as destdir:
        env = dict(os.environ, DESTDIR=destdir)
        subprocess.run([CMAKE, "--install", BUILD, "--component", "python", "--prefix", "/usr/local"],
                       check=True, env=env, capture_output=True, text=True)
        installed = []
        for root, dirs, files in os.walk(destdir):
            if os.path.basename(root) == "apiary" and "__init__.py" in files:
                installed.append(root)
        assert len(installed) == 1, installed
        package = installed[0]
        site = os.path.dirname(package)[len(destdir):]  # the folder as it would be on the real system
        assert site in sys.path, (site, sys.path)
        modules = sorted(f for f in os.listdir(package) if f.endswith(".so"))
        assert modules and modules[0].startswith("_apiary.")
        clean = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
        clean["PYTHONPATH"] = destdir + site
        script = ("import apiary, numpy as np; print(apiary.__file__); "
                  "e = apiary.make_vec('CartPole-v1', 2, seed=0); e.reset(); "
                  "print(e.step(np.array([0, 1]))[1]); "
                  "import importlib.util; spec = importlib.util.find_spec('apiary._apiary_torch'); "
                  "print('torch part:', spec.origin if spec else None)")
        result = subprocess.run([sys.executable, "-c", script], env=clean, capture_output=True, text=True,
                                cwd=destdir)
        assert result.returncode == 0, result.stderr
        assert result.stdout.splitlines()[0].startswith(package)
        assert "[1. 1.]" in result.stdout
        if any(m.startswith("_apiary_torch.") for m in modules):  # built where runner/ is
            assert f"torch part: {package}/_apiary_torch." in result.stdout
