"""The reviewers' and auditors' workbench: ``padu serve``, a server-rendered web application
over the warehouse (docs/workbench.md).

``create_app(settings)`` returns the Starlette application. Pages read the warehouse through
``connectors.warehouse.workbench`` with the signed-in person's own database role; the
workbench imports neither Dagster nor the pipelines.
"""

from workbench.app import create_app
from workbench.settings import ServeRefused, ServeSettings, check_binding

__all__ = ["ServeRefused", "ServeSettings", "check_binding", "create_app"]
