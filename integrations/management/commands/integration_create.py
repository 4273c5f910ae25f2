"""``manage.py integration_create``: connect a GitHub repository or a Jira project to a board,
for ops teams who configure by script.

    FLOWBOARD_HOOK_SECRET=... manage.py integration_create --board pay --kind jira \\
        --name "Jira PAY" --map "To Do=Backlog,In Progress=In development,Done=Released"

The secret is read from the ``FLOWBOARD_HOOK_SECRET`` environment variable, never from the
command line (where it would stay in the shell's history and in the process list). It prints
the webhook URL to register in GitHub or Jira (``PUBLIC_URL`` gives its address). The admin
shows the same integration, to change its mapping later.
"""

import os

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from boards.models import Board
from flowboard.errors import FlowboardError
from integrations import services
from integrations.models import Integration

SECRET_VARIABLE = "FLOWBOARD_HOOK_SECRET"


class Command(BaseCommand):
    help = "Connect a GitHub or Jira webhook to a board; prints the URL to register."

    def add_arguments(self, parser):
        parser.add_argument("--board", required=True, help="The board's slug.")
        parser.add_argument("--kind", required=True, choices=Integration.Kind.values)
        parser.add_argument("--name", required=True, help="e.g. 'Jira PAY' or 'github/payments'.")
        parser.add_argument(
            "--map",
            default="",
            help='Statuses to columns: "To Do=Backlog,In Progress=Build,Done=Done".',
        )

    def handle(self, *args, **options):
        secret = os.environ.get(SECRET_VARIABLE, "")
        if not secret:
            raise CommandError(
                f"Set the webhook secret in the {SECRET_VARIABLE} environment variable (it is "
                "never taken from the command line)."
            )
        board = Board.objects.filter(slug=options["board"]).first()
        if board is None:
            slugs = ", ".join(Board.objects.values_list("slug", flat=True)[:20]) or "none"
            raise CommandError(f"No board {options['board']!r} (boards: {slugs}).")
        try:
            mapping = services.parse_mapping(options["map"])
            integration = services.integration_create(
                board,
                kind=options["kind"],
                name=options["name"],
                secret=secret,
                mapping=mapping,
            )
        except FlowboardError as error:
            raise CommandError(error.message) from None
        url = settings.PUBLIC_URL + services.webhook_path(integration)
        header = "X-Hub-Signature-256" if integration.kind == "github" else "X-Hub-Signature"
        self.stdout.write(f"Created {integration} on {board.name}.")
        for status, column in integration.mapping.items():
            self.stdout.write(f"  {status} -> {column}")
        self.stdout.write(f"Register this webhook URL, with the same secret (signed in {header}):")
        self.stdout.write(url)
