"""A bubblewrap sandbox for building a submission: it sees the system read-only and only the folders it is
given, so a build cannot read the kit's solutions/ (tools/grade_class.py).

    bwrap_works()                         None when bwrap can make a sandbox here, else why not
    sandbox_prefix(readable, writable)    the bwrap command line to put before a command

The sandbox: /usr, /etc and /opt read-only (and the installation of cmake, ninja, nvcc or g++ when one is
elsewhere, e.g. a CMake from pip in a home folder), the `readable` folders read-only, the `writable` ones
writable, a private /tmp, /proc and /dev; no other file of the machine, no network, its own session, and
it dies with its parent.
"""
import os
import pathlib
import shutil
import subprocess

SYSTEM_DIRS = ["/usr", "/etc", "/opt"]


def bwrap_works():
    """None when bwrap can make a sandbox here, else why not."""
    if shutil.which("bwrap") is None:
        return "bwrap is not installed (apt-get install bubblewrap)"
    try:
        done = subprocess.run(["bwrap", "--ro-bind", "/", "/", "--unshare-all", "--die-with-parent", "true"],
                              capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired) as error:
        return f"bwrap did not run: {error}"
    return None if done.returncode == 0 else f"bwrap cannot make a sandbox here: {done.stderr.strip()}"


def sandbox_prefix(readable, writable):
    """bwrap arguments: the system read-only, `readable` read-only, `writable` writable, and nothing else of
    the file system (so not the kit's solutions/, .git or builds); no network; a private /tmp."""
    args = ["bwrap", "--unshare-all", "--die-with-parent", "--new-session", "--proc", "/proc", "--dev", "/dev",
            "--tmpfs", "/tmp"]
    for top in ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"):
        if os.path.islink(top):
            args += ["--symlink", os.readlink(top), top]
        elif os.path.isdir(top):
            args += ["--ro-bind", top, top]
    for folder in SYSTEM_DIRS:
        if os.path.isdir(folder):
            args += ["--ro-bind", folder, folder]
    # Tools found outside those (a CMake from pip in a home folder, a CUDA elsewhere): their installation.
    for tool in ("cmake", "ninja", "nvcc", "c++", "g++"):
        path = shutil.which(tool)
        if path:
            prefix = pathlib.Path(path).resolve().parent.parent
            if not any(str(prefix).startswith(d + "/") or str(prefix) == d for d in SYSTEM_DIRS):
                args += ["--ro-bind", str(prefix), str(prefix)]
    for path in readable:
        args += ["--ro-bind", str(path), str(path)]
    for path in writable:
        args += ["--bind", str(path), str(path)]
    return args + ["--setenv", "HOME", "/tmp", "--"]
