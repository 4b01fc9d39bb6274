"""Health, departments and task forces."""

from __future__ import annotations

from flask.views import MethodView
from api.parsing import DubanBlueprint

from api.auth import engine
from api.schemas import DepartmentSchema, HealthSchema, TaskforceSchema
from engine.queries.org import list_departments, list_taskforces

health_blp = DubanBlueprint("health", __name__, url_prefix="/api/v1", description="健康检查")
blp = DubanBlueprint("org", __name__, url_prefix="/api/v1", description="组织机构：单位与专班")


@health_blp.route("/health")
class HealthView(MethodView):
    """Liveness."""

    public = True

    @health_blp.doc(security=[])
    @health_blp.response(200, HealthSchema)
    def get(self) -> dict[str, str]:
        """Say the service is up."""
        return {"status": "ok"}


@blp.route("/departments")
class DepartmentsView(MethodView):
    """Departments."""

    @blp.response(200, DepartmentSchema(many=True))
    def get(self):  # type: ignore[no-untyped-def]
        """List every department: bureaus, districts and the supervision office."""
        return list_departments(engine())


@blp.route("/taskforces")
class TaskforcesView(MethodView):
    """Task forces."""

    @blp.response(200, TaskforceSchema(many=True))
    def get(self):  # type: ignore[no-untyped-def]
        """List the five task forces with their leaders, lead and member departments."""
        return list_taskforces(engine())
