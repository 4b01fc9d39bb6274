"""The user tasks' forms: marshmallow schemas that validate submitted data and describe fields.

Each field carries its Chinese label, and where it is conditional the rule that makes it
required (``required_when``: another field's values). The same schema validates the submission
and tells a client which fields to show.
"""

from __future__ import annotations

from typing import Any, Mapping

from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

from engine.catalogue import FormContext
from engine.errors import InvalidInput
from processes import ids

TEXT_MAX = 4000


class StrictBoolean(fields.Boolean):
    """A boolean that accepts only JSON true and false."""

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> bool:
        if not isinstance(value, bool):
            raise self.make_error("invalid")
        return value


class StrictString(fields.String):
    """A string that is not blank once trimmed."""

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> str:
        text = super()._deserialize(value, attr, data, **kwargs).strip()
        if not text and self.required:
            raise ValidationError("不能为空。")
        return text


def _text(label: str, *, required: bool = False, when: dict[str, list[Any]] | None = None,
          max_length: int = TEXT_MAX) -> fields.Field:
    return StrictString(
        required=required,
        validate=validate.Length(max=max_length),
        metadata={"label": label, "widget": "textarea", "required_when": when},
    )


def _department(label: str, *, when: dict[str, list[Any]] | None = None,
                prefill: bool = False) -> fields.Field:
    return fields.String(metadata={"label": label, "widget": "department", "required_when": when,
                                   "prefill": prefill})


def _working_days(label: str, *, when: dict[str, list[Any]] | None = None,
                  prefill: bool = False) -> fields.Field:
    return fields.Integer(
        strict=True,
        validate=validate.Range(min=1, max=250),
        metadata={"label": label, "widget": "working_days", "required_when": when,
                  "prefill": prefill},
    )


class TaskFormSchema(Schema):
    """Base of every form: unknown fields are refused, conditional fields enforced."""

    class Meta:
        unknown = RAISE

    @validates_schema
    def _check_conditions(self, data: dict[str, Any], **kwargs: Any) -> None:
        errors: dict[str, list[str]] = {}
        for name, field in self.fields.items():
            when = field.metadata.get("required_when")
            if not when:
                continue
            applies = all(data.get(other) in values for other, values in when.items())
            value = data.get(name)
            if applies and (value is None or value == "" or value == []):
                errors[name] = ["此项为必填项。" + _condition_text(self, when)]
        departments: Mapping[str, str] = self.context.get("departments", {})
        for name, field in self.fields.items():
            if field.metadata.get("widget") != "department" or data.get(name) is None:
                continue
            if data[name] not in departments:
                errors[name] = [f"未知的单位：{data[name]}"]
        if errors:
            raise ValidationError(errors)


def _condition_text(schema: Schema, when: dict[str, list[Any]]) -> str:
    parts = []
    for other, values in when.items():
        field = schema.fields[other]
        names = field.metadata.get("choice_labels", {})
        shown = "、".join(str(names.get(_key(v), v)) for v in values)
        parts.append(f"（{field.metadata.get('label', other)}为“{shown}”时）")
    return "".join(parts)


def _key(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


class ReferCaseForm(TaskFormSchema):
    """转办: refer to a lead department with a deadline, or reject at triage."""

    decision = fields.String(
        required=True,
        validate=validate.OneOf(["refer", "reject"]),
        metadata={"label": "处理决定", "choice_labels": {"refer": "转办", "reject": "不予受理"}},
    )
    lead_department = _department("牵头单位", when={"decision": ["refer"]}, prefill=True)
    co_departments = fields.List(
        fields.String(), load_default=list,
        metadata={"label": "协办单位", "widget": "departments", "prefill": True},
    )
    deadline_working_days = _working_days(
        "办理期限（工作日）", when={"decision": ["refer"]}, prefill=True
    )
    instructions = _text("转办意见")
    reason = _text("不予受理理由", when={"decision": ["reject"]})

    @validates_schema
    def _check_co_departments(self, data: dict[str, Any], **kwargs: Any) -> None:
        departments: Mapping[str, str] = self.context.get("departments", {})
        co = data.get("co_departments") or []
        unknown = [c for c in co if c not in departments]
        if unknown:
            raise ValidationError({"co_departments": [f"未知的单位：{'、'.join(unknown)}"]})
        if data.get("lead_department") and data["lead_department"] in co:
            raise ValidationError({"co_departments": ["牵头单位不能同时作为协办单位。"]})
        if len(set(co)) != len(co):
            raise ValidationError({"co_departments": ["协办单位重复。"]})


class HandleCaseForm(TaskFormSchema):
    """处置: report the result, return the case, or ask for more time."""

    outcome = fields.String(
        required=True,
        validate=validate.OneOf(["done", "return", "extend"]),
        metadata={
            "label": "办理结果",
            "choice_labels": {"done": "办理完毕", "return": "退回", "extend": "申请延期"},
        },
    )
    result = _text("办理情况", when={"outcome": ["done"]})
    reason = _text("理由", when={"outcome": ["return", "extend"]})
    extension_working_days = _working_days("延期天数（工作日）", when={"outcome": ["extend"]})


class AssistCaseForm(TaskFormSchema):
    """协办: a co-department reports its part."""

    result = _text("协办情况", required=True)


class ApproveExtensionForm(TaskFormSchema):
    """延期审批: approve or refuse an extension request."""

    approved = StrictBoolean(
        required=True, metadata={"label": "是否同意延期", "choice_labels": {"true": "同意", "false": "不同意"}}
    )
    comment = _text("审批意见")


class ReviewFeedbackForm(TaskFormSchema):
    """反馈审核: accept the result and close, or send it back for rework."""

    accepted = StrictBoolean(
        required=True,
        metadata={"label": "审核结论", "choice_labels": {"true": "通过，办结", "false": "不通过，返工重办"}},
    )
    comment = _text("审核意见")


class ReportProgressForm(TaskFormSchema):
    """报告进展: the lead department reports how handling is going."""

    progress = _text("工作进展", required=True)
    percent_complete = fields.Integer(
        strict=True, load_default=None, validate=validate.Range(min=0, max=100),
        metadata={"label": "完成进度（%）"},
    )
    difficulties = _text("存在困难")


class EvaluateEffectForm(TaskFormSchema):
    """问效评估: did the fix work? Not effective reopens the handling loop."""

    effective = StrictBoolean(
        required=True, metadata={"label": "整改是否见效", "choice_labels": {"true": "见效，办结", "false": "未见效，重新办理"}}
    )
    satisfaction = fields.Integer(
        strict=True, required=True, validate=validate.Range(min=1, max=5),
        metadata={"label": "满意度（1-5）"},
    )
    comment = _text("评估意见")


class ConductInspectionForm(TaskFormSchema):
    """实地查办: what the inspection found and who must rectify it, by when."""

    findings = _text("查办情况", required=True)
    problems_found = StrictBoolean(
        required=True, metadata={"label": "是否发现问题", "choice_labels": {"true": "发现问题", "false": "未发现问题"}}
    )
    rectification_department = _department("整改责任单位", when={"problems_found": [True]})
    deadline_working_days = _working_days("整改期限（工作日）", when={"problems_found": [True]})


class ReinspectForm(TaskFormSchema):
    """复查: did the rectification pass?"""

    passed = StrictBoolean(
        required=True, metadata={"label": "复查结论", "choice_labels": {"true": "通过", "false": "未通过，再次整改"}}
    )
    comment = _text("复查意见")


class MarshmallowTaskForm:
    """A task form backed by a marshmallow schema class."""

    def __init__(self, schema: type[TaskFormSchema]) -> None:
        self.schema = schema

    def load(self, data: Mapping[str, Any], context: FormContext) -> dict[str, Any]:
        """Validate and clean submitted data; every field of the form is present in the result."""
        schema = self.schema(context={"departments": context.departments})
        try:
            cleaned = schema.load(data)
        except ValidationError as err:
            raise InvalidInput("表单填写有误", _flatten(err.normalized_messages())) from err
        return {name: cleaned.get(name) for name in schema.fields} | cleaned

    def initial(self, context: FormContext) -> dict[str, Any]:
        """Start the fields marked ``prefill`` from the task's data; a referral's lead department
        from the task force's lead unit (牵头单位) when the case names none yet."""
        prefilled = [name for name, field in self.schema._declared_fields.items() if field.metadata.get("prefill")]
        values = {name: context.task_data[name] for name in prefilled if context.task_data.get(name) is not None}
        if "lead_department" in prefilled:
            values.setdefault("lead_department", context.taskforce.get("lead_department"))
        return values

    def describe(self, context: FormContext) -> list[dict[str, Any]]:
        """Describe each field for a client that draws the form."""
        described = []
        for name, field in self.schema().fields.items():
            meta = field.metadata
            choices = None
            one_of = next((v for v in field.validators if isinstance(v, validate.OneOf)), None)
            labels = meta.get("choice_labels", {})
            if one_of is not None:
                choices = [{"value": c, "label": labels.get(c, c)} for c in one_of.choices]
            elif isinstance(field, fields.Boolean):
                choices = [{"value": v, "label": labels.get(_key(v), str(v))} for v in (True, False)]
            elif meta.get("widget") in ("department", "departments"):
                choices = [{"value": code, "label": name} for code, name in context.departments.items()]
            described.append({
                "name": name,
                "type": _type_name(field),
                "label": meta.get("label", name),
                "widget": meta.get("widget"),
                "required": field.required,
                "required_when": meta.get("required_when"),
                "prefill": bool(meta.get("prefill")),
                "choices": choices,
            })
        return described


def _type_name(field: fields.Field) -> str:
    if isinstance(field, fields.Boolean):
        return "boolean"
    if isinstance(field, fields.Integer):
        return "integer"
    if isinstance(field, fields.List):
        return "array"
    return "string"


def _flatten(messages: Mapping[str, Any]) -> dict[str, list[str]]:
    """Turn marshmallow's nested messages into {field: [message, ...]}."""
    flat: dict[str, list[str]] = {}
    for name, value in messages.items():
        if isinstance(value, dict):
            for inner, text in _flatten(value).items():
                flat[f"{name}.{inner}"] = text
        else:
            flat[name] = [str(v) for v in (value if isinstance(value, list) else [value])]
    return flat


FORMS = {
    ids.REFER_CASE: MarshmallowTaskForm(ReferCaseForm),
    ids.HANDLE_CASE: MarshmallowTaskForm(HandleCaseForm),
    ids.ASSIST_CASE: MarshmallowTaskForm(AssistCaseForm),
    ids.APPROVE_EXTENSION: MarshmallowTaskForm(ApproveExtensionForm),
    ids.REVIEW_FEEDBACK: MarshmallowTaskForm(ReviewFeedbackForm),
    ids.REPORT_PROGRESS: MarshmallowTaskForm(ReportProgressForm),
    ids.EVALUATE_EFFECT: MarshmallowTaskForm(EvaluateEffectForm),
    ids.CONDUCT_INSPECTION: MarshmallowTaskForm(ConductInspectionForm),
    ids.REINSPECT: MarshmallowTaskForm(ReinspectForm),
}
