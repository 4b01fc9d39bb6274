"""The supervision catalogue: processes.bpmn with its modes, forms, audit wording and notices."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date, datetime
from pathlib import Path
from typing import Any, Callable, Mapping

from engine.calendar.working_days import CalendarOverrides
from engine.catalogue import AuditEntry, CaseAction, Catalogue, ModeSpec, Notice
from processes import escalation, ids
from processes.forms import FORMS
from processes.org import OFFICE_DEPARTMENT

BPMN_PATH = Path(__file__).resolve().parent.parent / "processes.bpmn"
CALENDAR_PATH = Path(__file__).resolve().parent / "calendar.json"

ALL_ROLES = frozenset({"dispatcher", "supervisor", "taskforce_leader", "handler", "dept_leader"})
# Who refers and approves extensions, who reviews feedback, and whether feedback is reviewed.
OFFICE_LOOP = {"referrer_role": "dispatcher", "reviewer_role": "dispatcher", "review_required": True,
               "ladder": escalation.ladder_data("standard")}

MODES = {
    "standard": ModeSpec(
        name="standard", process_id=ids.SUPERVISION_LOOP, label="督查督办闭环",
        creator_roles=ALL_ROLES, defaults=OFFICE_LOOP,
    ),
    "direct": ModeSpec(
        name="direct", process_id=ids.DIRECT_SUPERVISION, label="直接专办",
        creator_roles=frozenset({"supervisor", "taskforce_leader"}), needs_lead_department=True,
        defaults={"referrer_role": "supervisor", "reviewer_role": "supervisor", "review_required": True,
                  "deadline_working_days": 5, "ladder": escalation.ladder_data("direct")},
    ),
    "effectiveness": ModeSpec(
        name="effectiveness", process_id=ids.EFFECTIVENESS_SUPERVISION, label="问效督办",
        creator_roles=frozenset({"dispatcher", "supervisor"}),
        defaults=OFFICE_LOOP | {"report_every_working_days": 5, "followup_working_days": 20,
                                "ladder": escalation.ladder_data("effectiveness")},
        options=frozenset({"report_every_working_days", "followup_working_days"}),
    ),
    "onsite": ModeSpec(
        name="onsite", process_id=ids.ONSITE_INSPECTION, label="实地查办",
        creator_roles=frozenset({"supervisor"}),
        defaults={"referrer_role": "supervisor", "reviewer_role": "supervisor", "review_required": False,
                  "ladder": escalation.ladder_data("onsite")},
    ),
    "reminder": ModeSpec(
        name="reminder", process_id=ids.REMINDER_SUPERVISION, label="提醒快办",
        creator_roles=frozenset({"dispatcher"}), needs_lead_department=True,
        defaults={"referrer_role": "dispatcher", "reviewer_role": "dispatcher", "review_required": False,
                  "deadline_working_days": 3, "upgrade_deadline_working_days": 5,
                  "ladder": escalation.ladder_data("reminder"), "upgrade_ladder": escalation.ladder_data("direct")},
    ),
}

END_RESOLUTIONS = ({end: ("completed", "办结") for end in ids.END_COMPLETED}
                   | {end: ("rejected", "事项关闭：不予受理") for end in ids.END_REJECTED})

# How the engine's own events read in the timeline.
WORDING = {
    "case_created": AuditEntry("case_created", "问题收集（{mode_label}）：{title}"),
    "task_created": AuditEntry("task_created", "生成待办：{title}（{department_name}）"),
    "task_claimed": AuditEntry("task_claimed", "签收：{title}"),
    "task_unclaimed": AuditEntry("task_unclaimed", "取消签收：{title}"),
    "task_assigned": AuditEntry("task_assigned", "指派：{title} → {assignee_name}"),
    "task_cancelled": AuditEntry("task_cancelled", "待办撤销：{title}"),
    "case_closed": AuditEntry("case_closed", "{resolution_label}"),
    "mode_changed": AuditEntry("mode_changed", "{previous_label}转为{label}"),
    "timer_fired": AuditEntry("timer_fired", "到期自动处理"),
    "notice_sent": AuditEntry("notice_sent", "发送通知：{title}"),
    "escalated": AuditEntry("escalated", "{rung_label}：{title}（{department_name}）"),
}

# What supervisors and the office do to a running case without a task.
CASE_ACTIONS = {
    # 催办: recorded, counted, and the lead department and whoever holds the case's tasks are told.
    "urge": CaseAction("urge", frozenset({"supervisor", "dispatcher"}),
                       AuditEntry("case_urged", "催办（第{count}次）{note}", counter="urge_count"),
                       notice="urged", note_field="message"),
    # 实地查办 on a running case: an inspection starts beside the open work, as often as needed.
    "inspect": CaseAction("inspect", frozenset({"supervisor"}),
                          AuditEntry("inspection_requested", "发起实地查办{note}"),
                          message=ids.MESSAGE_INSPECTION_REQUESTED),
}


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
            return AuditEntry("case_returned", f"退回：{data.get('reason')}", counter="return_count")
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
        return AuditEntry("feedback_rejected", "反馈审核不通过，返工重办", counter="rework_count")
    if task == ids.REPORT_PROGRESS:
        return AuditEntry("progress_reported", f"报告进展：{data.get('progress')}")
    if task == ids.EVALUATE_EFFECT:
        if data.get("effective"):
            return AuditEntry("effect_confirmed", f"问效评估：整改见效，满意度{data.get('satisfaction')}")
        return AuditEntry("effect_rejected", f"问效评估：未见效（满意度{data.get('satisfaction')}），重新办理")
    if task == ids.CONDUCT_INSPECTION:
        if data.get("problems_found"):
            return AuditEntry(
                "inspection_found_problems",
                f"实地查办发现问题，责成{department_name(data['rectification_department'])}整改，"
                f"期限{data['deadline_working_days']}个工作日",
            )
        return AuditEntry("inspection_clear", "实地查办未发现问题")
    if task == ids.REINSPECT:
        if data.get("passed"):
            return AuditEntry("reinspection_passed", "复查通过")
        return AuditEntry("reinspection_failed", "复查未通过，再次整改")
    return AuditEntry("task_completed", "完成任务")


def compose_notice(kind: str, case: Mapping[str, Any], department_name: Callable[[str], str]) -> Notice:
    """Word a notification about a case — what, which case, how overdue, the link — and say who gets it."""
    notice = _compose(kind, case, department_name)
    body = notice.body
    overdue = case.get("overdue_working_days") or 0
    if overdue and "超期" not in body:
        body += f"（已超期{overdue}个工作日）"
    if case.get("link"):
        body += f"\n查看事项：{case['link']}"
    return replace(notice, body=body)


def _compose(kind: str, case: Mapping[str, Any], department_name: Callable[[str], str]) -> Notice:
    number, title = case.get("number"), case.get("title")
    lead = case.get("lead_department") or ""
    subject = f"{number}《{title}》"
    if kind == "reminder":
        due = case.get("due_text") or ""
        return Notice(kind, f"提醒快办：{subject}",
                      f"请{department_name(lead)}尽快签收办理{subject}，办理期限至{due}。逾期将升级为直接专办。",
                      (("department", lead),))
    if kind == "upgraded":
        return Notice(kind, f"升级为直接专办：{subject}",
                      f"{subject}提醒快办超期未办结，已升级为直接专办，由督查室直接督办，"
                      f"请{department_name(lead)}立即办理。",
                      (("department", lead), ("role", "supervisor"),
                       ("taskforce_leader", case.get("taskforce") or "")))
    if kind == "urged":
        message = case.get("message") or "请加快办理进度，按期办结。"
        holders = tuple(("user", holder) for holder in case.get("holders") or ())
        return Notice(kind, f"催办：{subject}", f"督查室对{subject}催办（第{case.get('urge_count')}次）：{message}",
                      (("department", lead),) + holders)
    if kind.startswith("escalation_"):
        return _escalation_notice(kind, case, subject, department_name)
    return Notice(kind, f"督办通知：{subject}", f"{subject}有新的督办动态。", (("department", lead),))


ESCALATION_TEXT = {
    "unclaimed": ("未签收提醒", "{lead}尚未签收{subject}，请单位负责人督促签收办理。"),
    "due_soon": ("临期提醒", "{subject}将于{due}到期（临期，黄灯），请{lead}抓紧办理。"),
    "overdue": ("超期催办", "{subject}已超过办理期限（{due}），亮红灯，请{lead}立即办理并说明情况。"),
    "supervised": ("督办", "{subject}超期{overdue_days}个工作日仍未办结，已列为督办事项（二级），督查人员介入。"),
    "listed": ("挂牌督办", "{subject}超期{overdue_days}个工作日仍未办结，已挂牌督办（三级）并列入通报，请专班组长关注。"),
}


def _escalation_notice(kind: str, case: Mapping[str, Any], subject: str,
                       department_name: Callable[[str], str]) -> Notice:
    rung_name = kind.removeprefix("escalation_")
    label = case.get("rung_label") or ESCALATION_TEXT[rung_name][0]
    body = ESCALATION_TEXT[rung_name][1].format(
        subject=subject, lead=department_name(case.get("lead_department") or ""),
        due=case.get("due_text") or "", overdue_days=case.get("overdue_working_days") or 0,
    )
    audience = escalation.audience(case.get("mode") or "standard", rung_name, case)
    return Notice(kind, f"{label}：{subject}", body, audience)


def format_moment(moment: datetime | None) -> str | None:
    """A moment (in the city's time) as notices write it: 2026年12月02日 18:00."""
    return None if moment is None else moment.strftime("%Y年%m月%d日 %H:%M")


def is_side_work(data: Mapping[str, Any]) -> bool:
    """Whether a task belongs to an inspection run beside the case's main work (it must not move
    the case's lead department or deadline)."""
    return bool(data.get("ad_hoc_inspection"))


def calendar_overrides() -> CalendarOverrides:
    """The official holiday notices the calendar file adds to ``holidays.China``."""
    data = json.loads(CALENDAR_PATH.read_text(encoding="utf-8"))
    days_off: set[date] = set()
    workdays: set[date] = set()
    for year in data["years"].values():
        days_off.update(date.fromisoformat(d) for d in year["days_off"])
        workdays.update(date.fromisoformat(d) for d in year["workdays"])
    years = frozenset(int(y) for y in data["years"])
    return CalendarOverrides(frozenset(days_off), frozenset(workdays), years)


def build_catalogue() -> Catalogue:
    """Assemble the supervision catalogue for the engine."""
    return Catalogue(
        bpmn_xml=BPMN_PATH.read_text(encoding="utf-8"),
        modes=MODES,
        forms=FORMS,
        end_resolutions=END_RESOLUTIONS,
        office_department=OFFICE_DEPARTMENT,
        wording=WORDING,
        describe_completion=describe_completion,
        compose_notice=compose_notice,
        is_side_work=is_side_work,
        format_moment=format_moment,
        case_actions=CASE_ACTIONS,
        escalation_rung=escalation.rung,
        calendar_overrides=calendar_overrides(),
        default_mode="standard",
    )
