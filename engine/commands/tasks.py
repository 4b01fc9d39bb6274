"""Verbs on a task: sign for it (签收), give it back, give it to someone, complete it."""

from __future__ import annotations

import uuid
from typing import Any, Mapping


from engine.catalogue import FormContext
from engine.commands.pipeline import CaseCommand, TaskCommand, on_case_of_task, on_task
from engine.engine import Engine
from engine.errors import Conflict, Forbidden, InvalidInput, NotFound
from engine.org.access import Actor, may_assign, may_see_task, may_work_on, visible_tasks, workable_tasks
from engine.org.accounts import actor_of, find_user
from engine.storage.models import Task
from engine.storage.records import CaseView, TaskRecord
from engine.storage.repositories import OPEN_STATES

TITLE = "\x00title\x00"  # where a label's task title goes


def claim_task(engine: Engine, actor: Actor, task_id: uuid.UUID) -> TaskRecord:
    """签收: the actor takes a ready task; a conflict if someone else holds it."""

    def apply(command: TaskCommand) -> TaskRecord:
        entry = engine.catalogue.word("task_claimed", title=TITLE)  # the title is the task row's
        before, _, after = entry.label.partition(TITLE)
        claimed = command.tasks.claim(task_id, workable_tasks(actor), actor.username, command.now, entry.action,
                                      (before, after))
        if claimed is not None:
            return claimed
        task = _visible_task(command, actor, task_id)  # nothing changed: say why
        if not may_work_on(actor, task):
            raise Forbidden("无权签收此任务")
        if task.state == "claimed" and task.assignee == actor.username:
            return task
        _require_open(task)
        raise Conflict("任务已被他人签收", {"task": ["任务已由他人签收"]})

    return on_task(engine, actor.username, apply, one_statement=engine.settings.one_statement_claims)


def unclaim_task(engine: Engine, actor: Actor, task_id: uuid.UUID) -> TaskRecord:
    """Give a claimed task back to the department's worklist (its holder, or who may assign it)."""

    def apply(command: TaskCommand) -> TaskRecord:
        task = _visible_task(command, actor, task_id)
        if task.state != "claimed":
            raise Conflict("任务未被签收" if task.state == "ready" else "任务已结束")
        if task.assignee != actor.username and not may_assign(actor, task):
            raise Forbidden("只能取消自己签收的任务")
        released = command.tasks.change_if(task_id, (Task.state == "claimed") & (Task.assignee == task.assignee),
                                           state="ready", assignee=None, claimed_at=None)
        if released is None:
            raise Conflict("任务状态已变化，请刷新")
        command.record(released, engine.catalogue.word("task_unclaimed", title=task.title),
                       data={"previous_assignee": task.assignee})
        return released

    return on_task(engine, actor.username, apply)


def assign_task(engine: Engine, actor: Actor, task_id: uuid.UUID, username: str) -> TaskRecord:
    """A department leader gives a task to a member of the department."""
    user = find_user(engine, username)
    if user is None:
        raise InvalidInput("指派对象不存在", {"username": [f"未知的用户：{username}"]})
    assignee = actor_of(user)

    def apply(command: TaskCommand) -> TaskRecord:
        task = _visible_task(command, actor, task_id)
        if not may_assign(actor, task):
            raise Forbidden("只有本单位负责人可以指派任务")
        _require_open(task)
        if not may_work_on(assignee, task):
            raise InvalidInput("指派对象不能办理此任务", {"username": [f"{username} 不属于办理单位"]})
        assigned = command.tasks.change_if(
            task_id, Task.state.in_(OPEN_STATES) & Task.assignee.is_not_distinct_from(task.assignee),
            state="claimed", assignee=username, claimed_at=command.now)
        if assigned is None:
            raise Conflict("任务状态已变化，请刷新")
        command.record(assigned, engine.catalogue.word("task_assigned", title=task.title,
                                                       assignee_name=assignee.display_name),
                       data={"assignee": username, "previous_assignee": task.assignee})
        return assigned

    return on_task(engine, actor.username, apply)


def complete_task(engine: Engine, actor: Actor, task_id: uuid.UUID, data: Mapping[str, Any]) -> CaseView:
    """Complete a claimed task with its form data and move the case on."""

    def apply(command: CaseCommand) -> None:
        task = command.open_tasks.get(task_id)
        if task is None or not may_see_task(actor, task):
            task = _visible_task(command, actor, task_id)  # not found, or not open: say which
        if not may_work_on(actor, task):
            raise Forbidden("无权办理此任务")
        if task.state == "ready":
            raise Conflict("请先签收任务", {"task": ["任务尚未签收"]})
        _require_open(task)
        if task.assignee != actor.username:
            raise Conflict("任务已由他人签收", {"task": [f"已由 {task.assignee} 签收"]})
        ready = engine.runtime.ready_task(command.workflow, task.id, engine.catalogue.office_department)
        if ready is None:
            raise Conflict("任务已不在待办状态")
        form = engine.catalogue.forms[task.name]
        cleaned = form.load(data, FormContext(engine.directory.assignable(), ready.data))
        command.step(engine.runtime.complete(command.workflow, task.id, cleaned, ready.result_variable),
                     completed=task.id)
        entry = engine.catalogue.describe_completion(task.name, cleaned, engine.directory.name)
        command.record(entry, data=cleaned, task_id=task.id)
        command.raise_counter(entry.counter)

    return on_case_of_task(engine, actor.username, task_id, apply)


def _visible_task(command: CaseCommand | TaskCommand, actor: Actor, task_id: uuid.UUID) -> TaskRecord:
    task = command.tasks.find(task_id, visible_tasks(actor))
    if task is None:
        raise NotFound("任务不存在")
    return task


def _require_open(task: TaskRecord) -> None:
    if task.state not in OPEN_STATES:
        raise Conflict("任务已办结" if task.state == "completed" else "任务已撤销",
                       {"task": [f"任务状态：{task.state}"]})
