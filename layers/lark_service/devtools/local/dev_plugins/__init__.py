"""Plug-ins of ``lark-service dev``, started in the order ``dev.start_plugins`` lists them.

A module provides ``start(app: LocalApp) -> Callable[[], None] | None`` and returns its stop
function (called in reverse order on Ctrl-C). ``app.runner.invoke(name, event)`` runs a function,
``app.runner.add_output_hook(hook)`` sees every line the functions print, ``app.runner.env``
is the functions' environment (set values there before the function first runs), ``app.stack``
names the local table and queues, and ``app.stopping`` is set when the app shuts down.
"""
