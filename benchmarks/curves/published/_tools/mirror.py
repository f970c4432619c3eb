"""Read a file out of a fetched repository snapshot (/work/.mirror/<owner>+<name>/repo) at a commit."""
import os, subprocess, sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hf import hf_series

MIRROR = "/work/.mirror"

def src(repo, commit, path, tmp):
    d = f"{MIRROR}/{repo.replace('/', '+')}/repo"
    with open(tmp, "wb") as f:
        f.write(subprocess.check_output(["git", "-C", d, "show", f"{commit}:{path}"]))
    return tmp

def hf(repo, commit, path, keys=("loss", "eval_loss", "learning_rate", "grad_norm")):
    return hf_series(src(repo, commit, path, "/tmp/_pub_src.json"), keys)[1]
