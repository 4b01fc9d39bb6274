"""Request and response schemas of the HTTP API (the OpenAPI document is built from these)."""

from __future__ import annotations

from typing import Any

from marshmallow import EXCLUDE, RAISE, Schema, ValidationError, fields, missing, validate

from api.parsing import MAX_ID

TASK_STATES = ["ready", "claimed", "completed", "cancelled"]
STATE_FILTER = r"^(ready|claimed|completed|cancelled|open|all)(,(ready|claimed|completed|cancelled|open|all))*$"
MAX_PAGE = 1_000_000  # a page beyond it would start past any list duban keeps
WARNINGS = ["green", "yellow", "red"]


def _iso(value: Any) -> str:
    return value.isoformat()


class FastDumpSchema(Schema):
    """A response schema that dumps plain attributes directly.

    Worklist pages dump thousands of fields a second; marshmallow's per-field machinery costs more
    than the database query. Strings, numbers, booleans, UUIDs and datetimes are read straight off
    the object (an attribute, or a key of a dict), nested fast schemas are dumped by their own plan,
    and any other field goes through marshmallow as usual. The OpenAPI document is the same, and
    so is the output (tests/api/test_fast_dump.py holds it equal to marshmallow's own dump).
    """

    enabled = True  # off: marshmallow's own dump (the benchmark measures both)

    _DIRECT = {fields.DateTime: _iso, fields.UUID: str, fields.String: None, fields.Integer: None,
               fields.Boolean: None}

    def _dump_plan(self) -> list[tuple[str, str, Any, fields.Field]]:
        plan = self.__dict__.get("_plan")
        if plan is None:
            plan = []
            for attr_name, field in self.dump_fields.items():
                key = field.data_key or attr_name
                kind = type(field)
                direct = self._DIRECT[kind] if kind in self._DIRECT else _nested_plan(field)
                plan.append((key, field.attribute or attr_name, direct, field))
            self.__dict__["_plan"] = plan
        return plan

    def _serialize(self, obj: Any, *, many: bool = False) -> Any:
        if not FastDumpSchema.enabled:
            return super()._serialize(obj, many=many)
        if many and obj is not None:
            return [self._serialize_one(item) for item in obj]
        return self._serialize_one(obj)

    def _serialize_one(self, obj: Any) -> dict[str, Any]:
        result = {}
        read = obj.get if isinstance(obj, dict) else None
        for key, attr, direct, field in self._dump_plan():
            if direct == "marshmallow":
                value = field.serialize(attr, obj, accessor=self.get_attribute)
                if value is missing:
                    continue
            else:
                value = read(attr) if read is not None else getattr(obj, attr, None)
                if value is not None and direct is not None:
                    value = direct(value)
            result[key] = value
        return result


def _nested_plan(field: fields.Field) -> Any:
    """A direct dump for a nested fast schema (one, many, or a list of them); else marshmallow."""
    inner, as_list = field, False
    if type(field) is fields.List and type(field.inner) is fields.Nested:
        inner, as_list = field.inner, True
    if type(inner) is not fields.Nested or not isinstance(inner.schema, FastDumpSchema):
        return "marshmallow"
    schema = inner.schema
    if as_list or inner.many:
        return lambda value: schema._serialize(value, many=True)
    return schema._serialize


class Text(fields.String):
    """Text a person typed, trimmed. A required one must not be blank; an optional blank one reads
    as not given (null)."""

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> str | None:
        text = super()._deserialize(value, attr, data, **kwargs).strip()
        if not text:
            if self.required:
                raise ValidationError("不能为空。")
            return None
        return text

    def _validate(self, value: Any) -> None:
        if value is not None:  # a blank optional text is simply not given
            super()._validate(value)


# Codes (departments, task forces, modes) and usernames: letters, digits and _ . -, at most 64.
CODE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$"


class Code(fields.String):
    """A code naming something (a department, a task force, a mode) or someone (a username)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(validate=validate.Regexp(CODE_PATTERN, error="格式不正确：只能由字母、数字和 _ . - 组成。"),
                         **kwargs)

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> str:
        code = super()._deserialize(value, attr, data, **kwargs)
        if not code.strip():
            raise ValidationError("不能为空。")
        return code


def Id(**kwargs: Any) -> fields.Integer:  # noqa: N802 - a field factory, named like a field
    """A database id (1 to 2^63 - 1)."""
    return fields.Integer(validate=validate.Range(min=1, max=MAX_ID), **kwargs)


class StrictSchema(Schema):
    """A request schema that refuses unknown fields."""

    class Meta:
        unknown = RAISE


class QuerySchema(Schema):
    """Query-string arguments; unknown ones (cache busters and the like) are ignored."""

    class Meta:
        unknown = EXCLUDE


class TokenRequestSchema(StrictSchema):
    username = fields.String(required=True, validate=validate.Length(min=1, max=64))
    password = fields.String(required=True, validate=validate.Length(min=1, max=256), load_only=True)


class TokenSchema(Schema):
    access_token = fields.String()
    token_type = fields.String()
    expires_in = fields.Integer()


class MeSchema(Schema):
    username = fields.String()
    display_name = fields.String()
    department = fields.String(allow_none=True)
    taskforce = fields.String(allow_none=True)
    roles = fields.List(fields.String())


class SessionSchema(MeSchema):
    csrf_token = fields.String(allow_none=True, metadata={
        "description": "send as X-CSRF-Token with every change (null for a bearer-token session)"})
    expires_in = fields.Integer(allow_none=True)


class HealthSchema(Schema):
    status = fields.String(required=True, metadata={"description": "ok"})


class DepartmentSchema(Schema):
    code = fields.String()
    name = fields.String()
    kind = fields.String(metadata={"description": "bureau | district | office"})


class TaskforceSchema(Schema):
    code = fields.String()
    name = fields.String()
    industry = fields.String()
    leader = fields.String(metadata={"description": "组长（职务）"})
    deputy_leaders = fields.List(fields.String(), metadata={"description": "副组长（职务）"})
    convenor_count = fields.Integer(metadata={"description": "召集人人数"})
    lead_department = fields.String(metadata={"description": "牵头单位"})
    member_departments = fields.List(fields.String(), metadata={"description": "成员单位（含牵头单位）"})
    member_note = fields.String(allow_none=True)


class TaskSchema(FastDumpSchema):
    id = fields.UUID()
    case_id = fields.Integer()
    case_number = fields.String(allow_none=True)
    case_title = fields.String()
    name = fields.String(metadata={"description": "BPMN id of the user task"})
    title = fields.String()
    department = fields.String()
    role = fields.String(metadata={"description": "dispatcher | supervisor | department"})
    assignee = fields.String(allow_none=True)
    state = fields.String(metadata={"description": "ready | claimed | completed | cancelled"})
    mode = fields.String()
    taskforce = fields.String()
    created_at = fields.DateTime()
    claimed_at = fields.DateTime(allow_none=True)
    completed_at = fields.DateTime(allow_none=True)
    completed_by = fields.String(allow_none=True)
    due_at = fields.DateTime(allow_none=True)
    warning_level = fields.String()
    escalation_level = fields.Integer()


class FormFieldSchema(Schema):
    name = fields.String()
    type = fields.String()
    label = fields.String()
    widget = fields.String(allow_none=True)
    required = fields.Boolean()
    required_when = fields.Dict(allow_none=True)
    prefill = fields.Boolean()
    choices = fields.List(fields.Dict(), allow_none=True)


class TaskDetailSchema(TaskSchema):
    form = fields.List(fields.Nested(FormFieldSchema))
    values = fields.Dict(metadata={"description": "values to start the form from"})
    actions = fields.List(fields.String(), metadata={"description": "what the caller may do now"})


class CaseSchema(FastDumpSchema):
    id = fields.Integer()
    number = fields.String()
    title = fields.String()
    description = fields.String()
    taskforce = fields.String()
    source = fields.String(allow_none=True)
    mode = fields.String()
    status = fields.String(metadata={"description": "open | closed | cancelled"})
    resolution = fields.String(allow_none=True, metadata={"description": "completed | rejected"})
    lead_department = fields.String(allow_none=True)
    co_departments = fields.List(fields.String())
    due_at = fields.DateTime(allow_none=True)
    warning_level = fields.String()
    escalation_level = fields.Integer()
    urge_count = fields.Integer()
    return_count = fields.Integer()
    rework_count = fields.Integer()
    created_by = fields.String()
    created_at = fields.DateTime()
    updated_at = fields.DateTime()
    closed_at = fields.DateTime(allow_none=True)
    version = fields.Integer()


class CaseDetailSchema(CaseSchema):
    open_tasks = fields.List(fields.Nested(TaskSchema))


class CaseCreateSchema(StrictSchema):
    title = Text(required=True, validate=validate.Length(min=1, max=200))
    description = Text(required=True, validate=validate.Length(min=1, max=10000))
    taskforce = Code(required=True)
    source = Text(load_default=None, allow_none=True, validate=validate.Length(max=64))
    mode = Code(load_default=None)
    lead_department = Code(load_default=None)
    co_departments = fields.List(Code(), load_default=list,
                                 validate=validate.Length(max=50))
    deadline_working_days = fields.Integer(strict=True, load_default=None,
                                           validate=validate.Range(min=1, max=250))
    report_every_working_days = fields.Integer(
        strict=True, load_default=None, validate=validate.Range(min=1, max=60),
        metadata={"description": "effectiveness only: progress reports every N working days (default 5)"})
    followup_working_days = fields.Integer(
        strict=True, load_default=None, validate=validate.Range(min=1, max=250),
        metadata={"description": "effectiveness only: follow-up N working days after handling (default 20)"})


class DiagramSchema(Schema):
    process_id = fields.String(metadata={"description": "the case's top process"})
    version = fields.String()
    bpmn_xml = fields.String(metadata={"description": "processes.bpmn as deployed for this case"})
    elements = fields.Dict(metadata={"description": "{process id: {current: [element id], completed: [...]}}"})


class UrgeSchema(StrictSchema):
    message = Text(load_default=None, allow_none=True, validate=validate.Length(max=1000))


class InspectionRequestSchema(StrictSchema):
    note = Text(load_default=None, allow_none=True, validate=validate.Length(max=2000))


class NotificationSchema(FastDumpSchema):
    id = fields.Integer()
    kind = fields.String()
    case_id = fields.Integer(allow_none=True)
    title = fields.String()
    body = fields.String()
    created_at = fields.DateTime()
    read_at = fields.DateTime(allow_none=True)


class NotificationPageSchema(Schema):
    items = fields.List(fields.Nested(NotificationSchema))
    total = fields.Integer()
    unread = fields.Integer(metadata={"description": "the caller's unread count"})
    page = fields.Integer()
    per_page = fields.Integer()


class EventSchema(FastDumpSchema):
    id = fields.Integer()
    case_id = fields.Integer()
    task_id = fields.UUID(allow_none=True)
    actor = fields.String()
    action = fields.String()
    label = fields.String()
    at = fields.DateTime()
    data = fields.Dict()


class CompleteSchema(StrictSchema):
    data = fields.Dict(required=True, metadata={"description": "the task's form fields"})


class AssignSchema(StrictSchema):
    username = Code(required=True)


class PageArgs(QuerySchema):
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=MAX_PAGE))
    per_page = fields.Integer(load_default=50, validate=validate.Range(min=1, max=200))


class TaskListArgs(PageArgs):
    scope = fields.String(load_default="all", validate=validate.OneOf(["mine", "department", "all"]))
    state = fields.String(load_default="open", validate=validate.Regexp(STATE_FILTER, error="未知的状态。"), metadata={
        "description": "ready, claimed, completed, cancelled, open (ready+claimed) or all; comma-separated"})
    case_id = Id(load_default=None)
    name = Code(load_default=None)
    warning = fields.String(load_default=None, validate=validate.OneOf(WARNINGS))
    mode = Code(load_default=None)
    taskforce = Code(load_default=None)
    sort = fields.String(load_default="due_at",
                         validate=validate.OneOf(["due_at", "-due_at", "created_at", "-created_at"]))


class NotificationListArgs(PageArgs):
    unread = fields.Boolean(load_default=False)


class CaseListArgs(PageArgs):
    status = fields.String(load_default=None, validate=validate.OneOf(["open", "closed", "cancelled"]))
    mode = Code(load_default=None)
    taskforce = Code(load_default=None)
    department = Code(load_default=None)
    warning = fields.String(load_default=None, validate=validate.OneOf(WARNINGS))
    sort = fields.String(load_default="-created_at",
                         validate=validate.OneOf(["-created_at", "created_at", "due_at", "-escalation_level"]))


def page_schema(item: type[Schema], name: str) -> type[Schema]:
    """A list page of item: items, total, page, per_page."""
    return FastDumpSchema.from_dict(
        {
            "items": fields.List(fields.Nested(item)),
            "total": fields.Integer(),
            "page": fields.Integer(),
            "per_page": fields.Integer(),
        },
        name=name,
    )


TaskPageSchema = page_schema(TaskSchema, "TaskPage")
CasePageSchema = page_schema(CaseSchema, "CasePage")
