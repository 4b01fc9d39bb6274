"""Keep a long-lived workflow's task tree flat.

SpiffWorkflow appends a new branch to the task tree every time a loop in the model is taken
(a return, a rework, an extension). Left alone the tree deepens by a few levels per loop, every
step walks all of it, and at about 200 loops the walk overflows the recursion limit and the case
is lost. The history those branches hold is already in the audit table, so once a loop iteration
is entirely finished it is spliced out: the task that re-entered the loop is re-attached where the
previous entry stood, and the finished iteration is dropped with everything hanging off it.
"""

from __future__ import annotations

from uuid import UUID

from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.task import Task
from SpiffWorkflow.util.task import TaskState

_DROPPABLE = TaskState.COMPLETED | TaskState.CANCELLED


def prune_finished_loops(workflow: BpmnWorkflow) -> int:
    """Splice finished loop iterations out of the workflow and its subprocesses; return tasks dropped."""
    dropped = _prune_one(workflow)
    for task_id in list(workflow.subprocesses):
        subprocess = workflow.subprocesses.get(task_id)
        if subprocess is not None:  # a splice above may have deleted it with its parent
            dropped += _prune_one(subprocess)
    return dropped


def _prune_one(wf) -> int:
    """Splice loops out of one (sub)workflow's own tree until none is left."""
    dropped_total = 0
    while True:
        splice = _find_splice(wf)
        if splice is None:
            return dropped_total
        nearer, farther = splice
        dropped_total += _splice(wf, nearer, farther)


def _find_splice(wf) -> tuple[Task, Task] | None:
    """Find a repeated task spec on the ancestor chain of an unfinished task, safe to splice."""
    for task in list(wf.tasks.values()):
        if task.state & _DROPPABLE:
            continue
        seen: dict[str, Task] = {}
        node: Task | None = task
        while node is not None:
            name = node.task_spec.name
            nearer = seen.get(name)
            if nearer is not None:
                if _all_finished(wf, node, nearer):
                    return nearer, node
                break
            seen[name] = node
            node = wf.tasks.get(node._parent) if node._parent is not None else None
    return None


def _subtree_ids(wf, root: Task, stop: UUID | None = None) -> list[UUID]:
    """List ids in root's subtree, not descending into the task whose id is stop."""
    ids: list[UUID] = []
    pending = [root.id]
    while pending:
        task_id = pending.pop()
        if task_id == stop:
            continue
        ids.append(task_id)
        pending.extend(wf.tasks[task_id]._children)
    return ids


def _all_finished(wf, farther: Task, nearer: Task) -> bool:
    """Tell whether everything the splice would drop is completed or cancelled."""
    return all(wf.tasks[i].state & _DROPPABLE for i in _subtree_ids(wf, farther, stop=nearer.id))


def _splice(wf, nearer: Task, farther: Task) -> int:
    """Re-attach nearer in farther's place and drop farther's finished subtree."""
    doomed = _subtree_ids(wf, farther, stop=nearer.id)
    parent = wf.tasks[farther._parent]
    parent._children = [nearer.id if c == farther.id else c for c in parent._children]
    old_parent = wf.tasks[nearer._parent]
    old_parent._children = [c for c in old_parent._children if c != nearer.id]
    nearer._parent = parent.id
    top = wf.top_workflow
    for task_id in doomed:
        if task_id in top.subprocesses:
            top.delete_subprocess(wf.tasks[task_id])
        del wf.tasks[task_id]
    if wf.last_task is not None and wf.last_task.id not in wf.tasks:
        wf.last_task = None
    return len(doomed)
