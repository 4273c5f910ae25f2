"""Metric snapshots derived from the Transition log, and the queue of items to refresh.

Snapshots can always be recomputed from the log, so losing one never loses data. Each table is
keyed so that a task that runs twice, or is killed and re-run, leaves the same rows.
"""

from django.db import models


class PendingRefresh(models.Model):
    """An item whose metric inputs changed. Written in the same transaction as the change, so a
    change is never forgotten even if the broker or worker is down; the refresh task deletes the
    rows it has processed, and only those."""

    board = models.ForeignKey("boards.Board", on_delete=models.CASCADE, related_name="+")
    item = models.ForeignKey("boards.WorkItem", on_delete=models.CASCADE, related_name="+")
    queued_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["board", "id"], name="pending_board_id")]

    def __str__(self) -> str:
        return f"refresh item {self.item_id} of board {self.board_id}"


class ItemMetrics(models.Model):
    """Per-item figures (``metrics.calculators.items.ItemFlow``), keyed by the item."""

    item = models.OneToOneField(
        "boards.WorkItem", on_delete=models.CASCADE, primary_key=True, related_name="metrics"
    )
    # A full recompute writes every row: no index that the composites below already cover
    # (board), or that only a column's deletion would use (current_column).
    board = models.ForeignKey(
        "boards.Board", on_delete=models.CASCADE, related_name="+", db_index=False
    )
    current_column = models.ForeignKey(
        "boards.Column", on_delete=models.CASCADE, related_name="+", db_index=False
    )
    created_at = models.DateTimeField()
    started_at = models.DateTimeField(null=True)
    delivered_at = models.DateTimeField(null=True)
    discarded_at = models.DateTimeField(null=True)
    # {column id: epoch seconds or null}: entry dates on the counted path. Numbers, not ISO
    # strings: formatting 900k dates was a sixth of a full recompute at 100k items.
    entries = models.JSONField()
    cycle_seconds = models.FloatField(null=True)
    cycle_days = models.PositiveIntegerField(null=True)
    lead_seconds = models.FloatField(null=True)
    lead_days = models.PositiveIntegerField(null=True)
    # {column id: seconds}: every closed stay from the raw log. The open stay, in the current
    # column since ``in_column_since``, is added by readers: a snapshot holds no "now", so an
    # item nobody touched keeps exactly the same row (ages are computed when read, too).
    time_in_column = models.JSONField()
    in_column_since = models.DateTimeField(null=True)
    active_seconds = models.FloatField(null=True)
    waiting_seconds = models.FloatField(null=True)
    flow_efficiency = models.FloatField(null=True)
    # Closed blocked time (merged); an open block adds now - blocked_since when read.
    blocked_seconds = models.FloatField()
    blocked_since = models.DateTimeField(null=True)
    readiness_entered_at = models.DateTimeField(null=True)
    readiness_lead_seconds = models.FloatField(null=True)
    # The newest Transition this snapshot includes: a refresh recomputes the item's old
    # contribution to the daily series from exactly these moves and swaps it for the new one.
    last_transition_id = models.BigIntegerField()
    # A hash of every figure above: a full recompute rewrites only the rows whose figures changed.
    fingerprint = models.BigIntegerField()
    computed_at = models.DateTimeField()

    class Meta:
        verbose_name_plural = "item metrics"
        indexes = [
            models.Index(fields=["board", "delivered_at"], name="itemmetrics_board_delivered"),
            models.Index(fields=["board", "started_at"], name="itemmetrics_board_started"),
        ]

    def __str__(self) -> str:
        return f"metrics of item {self.item_id}"


class BoardMetrics(models.Model):
    """Per-board state of the snapshots, and the summary served by the API and dashboard.

    Its row is the lock every refresh of the board takes, so two refreshes never interleave.
    """

    board = models.OneToOneField(
        "boards.Board", on_delete=models.CASCADE, primary_key=True, related_name="metrics"
    )
    first_day = models.DateField(help_text="First day of the daily series (board zone).")
    last_day = models.DateField(help_text="Last day the daily series are filled up to.")
    full_computed_at = models.DateTimeField(help_text="When the board was last recomputed whole.")
    computed_at = models.DateTimeField(help_text="When any part was last refreshed.")
    summary = models.JSONField(default=dict)
    summary_computed_at = models.DateTimeField(null=True)
    # How many incremental refreshes ran: shows the debounce at work (a burst, a few runs).
    refreshes = models.PositiveBigIntegerField(default=0)
    # The board set-up the snapshots were computed with (columns, their positions, stages and
    # activities, the commitment and delivery points, the zone). When an ops lead changes it,
    # stored contributions no longer match: the next refresh recomputes the board instead.
    setup = models.JSONField(default=dict)

    class Meta:
        verbose_name_plural = "board metrics"

    def __str__(self) -> str:
        return f"metrics of board {self.board_id}"


class BoardDay(models.Model):
    """Board-wide counts of one calendar day (board zone)."""

    board = models.ForeignKey("boards.Board", on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    wip = models.PositiveIntegerField()
    arrivals = models.PositiveIntegerField()
    started = models.PositiveIntegerField()
    delivered = models.PositiveIntegerField(help_text="Throughput: delivered on this day.")
    discarded = models.PositiveIntegerField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["board", "day"], name="boardday_unique")]

    def __str__(self) -> str:
        return f"{self.board_id} {self.day}"


class ColumnDay(models.Model):
    """Per-column values of one day: the CFD band and the WIP at the end of the day."""

    board = models.ForeignKey("boards.Board", on_delete=models.CASCADE, related_name="+")
    column = models.ForeignKey("boards.Column", on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    cfd = models.PositiveIntegerField(help_text="Items whose entry date of the column is <= day.")
    wip = models.PositiveIntegerField(help_text="Items in the column at the end of the day.")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["board", "column", "day"], name="columnday_unique")
        ]
        indexes = [models.Index(fields=["board", "day"], name="columnday_board_day")]

    def __str__(self) -> str:
        return f"{self.column_id} {self.day}"
