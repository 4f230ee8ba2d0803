"""What the react function does when a trusted call adopted a contact a public key made
(`nurture.tracking.identity.adopt`, README "Who may change a contact"): the actors it did
not name or prove left for an orphan contact, and with them go the runs their activity
started here. The score is counted again from the history the contact kept (the scorer,
on the same `contact.actors_released` activity)."""

from __future__ import annotations

from nurture.ports import ActivityStore, StateStore, Workflows

STOP_CAUSE = "nurture: started by an actor the contact's adoption released"
# How much of the contact's own record is searched for the entries those actors caused.
ENTRIES_SEARCHED = 500


def stop_released_runs(
    state: StateStore,
    workflows: Workflows,
    activities: ActivityStore,
    contact_id: str,
    released: list[str],
) -> list[str]:
    """Stop the runs (latest entry of each program) that activity of a released actor
    started on the contact. `program.entered` names the actor of its cause. Returns the
    program ids stopped; safe to repeat (a stopped run is not running any more)."""
    gone = set(released)
    stopped: list[str] = []
    for entered in activities.list_for([f"contact:{contact_id}"], ENTRIES_SEARCHED):
        props = entered.properties
        if entered.name != "program.entered" or props.get("cause_actor") not in gone:
            continue
        program_id, execution = str(props.get("program_id")), str(props.get("execution"))
        enrolment = state.get_enrolment(contact_id, program_id)
        if enrolment is None or enrolment.execution != execution:
            continue  # a later entry (of its own cause) replaced it
        if enrolment.status not in ("pending", "started"):
            continue
        if enrolment.execution_arn:
            workflows.stop(enrolment.execution_arn, STOP_CAUSE)
        # its end is recorded as program.exited ("stopped: <STOP_CAUSE>"), as every stop is
        state.set_entry_status(contact_id, program_id, execution, "stopped")
        stopped.append(program_id)
    return stopped
