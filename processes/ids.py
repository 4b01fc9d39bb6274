"""Every BPMN id the Python code names. A test fails if one of them is not in processes.bpmn."""

from __future__ import annotations

# processes
SUPERVISION_LOOP = "supervision_loop"
CASE_HANDLING = "case_handling"

# user tasks
REFER_CASE = "refer_case"
HANDLE_CASE = "handle_case"
ASSIST_CASE = "assist_case"
APPROVE_EXTENSION = "approve_extension"
REVIEW_FEEDBACK = "review_feedback"

# end events that close a case
END_CLOSED = "end_closed"
END_REJECTED = "end_rejected"

PROCESSES = (SUPERVISION_LOOP, CASE_HANDLING)
USER_TASKS = (REFER_CASE, HANDLE_CASE, ASSIST_CASE, APPROVE_EXTENSION, REVIEW_FEEDBACK)
END_EVENTS = (END_CLOSED, END_REJECTED)
