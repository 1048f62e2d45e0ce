"""The `protobrain` group: version, error handling and exit codes, and the registration of
every command module's commands."""

from __future__ import annotations

import os
import sys

import click

from protobrain import __version__
from protobrain.cli import arduino, bundle, firmware, measure, model, ops, train
from protobrain.errors import ProtobrainError


class _Group(click.Group):
    """Turns every ProtobrainError into one line on stderr and its exit code."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except ProtobrainError as e:
            click.echo(f"protobrain: error: {e}", err=True)
            sys.exit(e.exit_code)
        except KeyboardInterrupt:
            click.echo("protobrain: interrupted", err=True)
            sys.exit(130)
        except (click.ClickException, click.exceptions.Exit, SystemExit):
            raise
        except Exception as e:
            if os.environ.get("PROTOBRAIN_DEBUG"):
                raise
            click.echo(f"protobrain: internal error: {type(e).__name__}: {e} (rerun with PROTOBRAIN_DEBUG=1 for a traceback)", err=True)
            sys.exit(1)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="protobrain")
def main():
    """protobrain: int8 TFLite models in, static-memory C and firmware out.

    Bit-exact with TensorFlow Lite Micro; weights in flash, one arena planned offline,
    no interpreter and no heap.
    """


for _module in (model, ops, firmware, measure, bundle, train):
    for _command in _module.COMMANDS:
        main.add_command(_command)
firmware.export.add_command(arduino.export_arduino)

if __name__ == "__main__":
    main()
