"""The layers, one file per family; each file lists its public layers in ``__all__``."""

from .activation import *  # noqa: F401,F403
from .attention import *  # noqa: F401,F403
from .conv import *  # noqa: F401,F403
from .conv3d import *  # noqa: F401,F403
from .linear import *  # noqa: F401,F403
from .misc import *  # noqa: F401,F403
from .norm import *  # noqa: F401,F403
from .pooling import *  # noqa: F401,F403
from .recurrent import *  # noqa: F401,F403
from .weight_norm import *  # noqa: F401,F403
