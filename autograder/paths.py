"""Where things are in this repository (every module reads them from here)."""
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOLUTIONS = ROOT / "solutions"
ASSIGNMENT = ROOT / "assignment"
AUTOGRADER = ROOT / "autograder"
HIDDEN_GRADERS = AUTOGRADER / "hidden"
SANDBOX = AUTOGRADER / "sandbox"
DEPLOY = AUTOGRADER / "deploy"
DATA = ROOT / "data"
BUILD = ROOT / "build"
