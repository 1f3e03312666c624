"""Neural-network layers and modules: ``tinygdl.nn.Linear``, ``tinygdl.nn.Conv2d``, ...

``module.py`` defines Module/Parameter and the containers, ``layers/`` the layers (one file per
family), ``functional.py`` the function-style API, ``init.py`` the weight initializers and
``summary.py`` the Keras-style model table.
"""

from . import functional, init  # noqa: F401
from .layers import *  # noqa: F401,F403
from .module import Module, ModuleDict, ModuleList, Parameter, Sequential, save_arrays  # noqa: F401
from .summary import summary  # noqa: F401
