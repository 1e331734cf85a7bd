"""chatbridge: describe a third party's webhook shape, get live-chat conversations.

The package is the shared Lambda layer. Its modules are plain Python that need no AWS to
import or test; only ``chatbridge.repository`` talks to AWS.
"""

__version__ = "0.1.0"
