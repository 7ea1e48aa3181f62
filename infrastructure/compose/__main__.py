import sys

from infrastructure.compose import render

sys.stdout.write(render())
