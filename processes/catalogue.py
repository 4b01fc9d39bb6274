"""The supervision catalogue: processes.bpmn with its modes, forms and audit wording."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Mapping

from engine.catalogue import AuditEntry, Catalogue, ModeSpec
from processes import ids
from processes.forms import FORMS
from processes.org import OFFICE_DEPARTMENT

BPMN_PATH = Path(__file__).resolve().parent.parent / "processes.bpmn"

MODES = {
    "standard": ModeSpec(
        name="standard",
        process_id=ids.SUPERVISION_LOOP,
        label="督查督办闭环",
        creator_roles=frozenset(
            {"dispatcher", "supervisor", "taskforce_leader", "handler", "dept_leader"}
        ),
    ),
}

END_RESOLUTIONS = {ids.END_CLOSED: "completed", ids.END_REJECTED: "rejected"}


def describe_completion(
    task: str, data: Mapping[str, Any], department_name: Callable[[str], str]
) -> AuditEntry:
    """Say in one Chinese line what completing a task with this data did."""
    if task == ids.REFER_CASE:
        if data.get("decision") == "reject":
            return AuditEntry("case_rejected", f"不予受理：{data.get('reason')}")
        label = (
            f"转办至{department_name(data['lead_department'])}，"
            f"办理期限{data['deadline_working_days']}个工作日"
        )
        if data.get("co_departments"):
            label += "，协办：" + "、".join(department_name(c) for c in data["co_departments"])
        return AuditEntry("case_referred", label)
    if task == ids.HANDLE_CASE:
        outcome = data.get("outcome")
        if outcome == "return":
            return AuditEntry("case_returned", f"退回：{data.get('reason')}")
        if outcome == "extend":
            return AuditEntry(
                "extension_requested",
                f"申请延期{data.get('extension_working_days')}个工作日：{data.get('reason')}",
            )
        return AuditEntry("result_submitted", "办理完毕，提交办理结果")
    if task == ids.ASSIST_CASE:
        return AuditEntry("assist_submitted", "提交协办情况")
    if task == ids.APPROVE_EXTENSION:
        if data.get("approved"):
            return AuditEntry("extension_approved", "同意延期")
        return AuditEntry("extension_refused", "不同意延期")
    if task == ids.REVIEW_FEEDBACK:
        if data.get("accepted"):
            return AuditEntry("feedback_accepted", "反馈审核通过")
        return AuditEntry("feedback_rejected", "反馈审核不通过，返工重办")
    return AuditEntry("task_completed", "完成任务")


def build_catalogue() -> Catalogue:
    """Assemble the supervision catalogue for the engine."""
    return Catalogue(
        bpmn_xml=BPMN_PATH.read_text(encoding="utf-8"),
        modes=MODES,
        forms=FORMS,
        end_resolutions=END_RESOLUTIONS,
        office_department=OFFICE_DEPARTMENT,
        describe_completion=describe_completion,
    )
