"""Gate evaluation: which required criteria stand between an item and a column.

A gate opens when every required criterion guarding it is met or waived. A forward move from
position ``a`` to position ``b`` passes every gate column at a position in (a, b].
"""

from collections.abc import Sequence

from readiness.models import AcceptanceCriterion


def unmet_criteria(item, columns: Sequence, from_position: int, to_position: int) -> list:
    """Required, pending criteria of ``item`` guarding a column in (from_position, to_position]."""
    crossed = [c.pk for c in columns if from_position < c.position <= to_position]
    return list(
        AcceptanceCriterion.objects.filter(
            item=item,
            required=True,
            status=AcceptanceCriterion.Status.PENDING,
            gate_column_id__in=crossed,
        ).order_by("gate_column__position", "track", "id")
    )


def describe(criterion: AcceptanceCriterion) -> dict:
    return {
        "id": criterion.pk,
        "title": criterion.title,
        "track": criterion.track,
        "gate_column_id": criterion.gate_column_id,
    }
