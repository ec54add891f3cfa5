"""The job kinds the worker carries out, one module each; `hubnox.sync.runner` dispatches to them."""
