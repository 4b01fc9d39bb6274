"""Every BPMN id the Python code names. A test fails if one of them is not in processes.bpmn."""

from __future__ import annotations

# processes: one per mode, and the three they share
SUPERVISION_LOOP = "supervision_loop"
DIRECT_SUPERVISION = "direct_supervision"
EFFECTIVENESS_SUPERVISION = "effectiveness_supervision"
ONSITE_INSPECTION = "onsite_inspection"
REMINDER_SUPERVISION = "reminder_supervision"
CASE_REFERRAL = "case_referral"
CASE_HANDLING = "case_handling"
INSPECTION = "inspection"

# user tasks
REFER_CASE = "refer_case"
HANDLE_CASE = "handle_case"
ASSIST_CASE = "assist_case"
APPROVE_EXTENSION = "approve_extension"
REVIEW_FEEDBACK = "review_feedback"
REPORT_PROGRESS = "report_progress"
EVALUATE_EFFECT = "evaluate_effect"
CONDUCT_INSPECTION = "conduct_inspection"
REINSPECT = "reinspect"

# service tasks
SEND_REMINDER = "send_reminder"
SEND_UPGRADE_NOTICE = "send_upgrade_notice"
# the escalation ladder on handle_case: a timer and a service task per rung (processes/escalation.py)
ESCALATE = ("escalate_unclaimed", "escalate_due_soon", "escalate_overdue", "escalate_supervised",
            "escalate_listed")

# timers
TIMER_REMINDER_OVERDUE = "timer_reminder_overdue"
TIMER_PROGRESS_DUE = "timer_progress_due"
TIMER_FOLLOWUP_DUE = "timer_followup_due"
ESCALATION_TIMERS = ("timer_unclaimed", "timer_due_soon", "timer_overdue", "timer_supervised", "timer_listed")

# messages
MESSAGE_INSPECTION_REQUESTED = "inspection_requested"

# end events that close a case, by resolution
END_COMPLETED = ("end_closed", "end_direct_closed", "end_effect_closed", "end_onsite_closed",
                 "end_reminder_closed", "end_upgraded_closed")
END_REJECTED = ("end_rejected", "end_direct_rejected", "end_effect_rejected", "end_reminder_rejected",
                "end_upgraded_rejected")

PROCESSES = (SUPERVISION_LOOP, DIRECT_SUPERVISION, EFFECTIVENESS_SUPERVISION, ONSITE_INSPECTION,
             REMINDER_SUPERVISION, CASE_REFERRAL, CASE_HANDLING, INSPECTION)
USER_TASKS = (REFER_CASE, HANDLE_CASE, ASSIST_CASE, APPROVE_EXTENSION, REVIEW_FEEDBACK,
              REPORT_PROGRESS, EVALUATE_EFFECT, CONDUCT_INSPECTION, REINSPECT)
SERVICE_TASKS = (SEND_REMINDER, SEND_UPGRADE_NOTICE, *ESCALATE)
