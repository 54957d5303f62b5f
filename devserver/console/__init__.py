"""The local runtime's web console (`GET /`): static pages in `static/`, served with their JSON
endpoints under /_local/console/ by `devserver.console.server`."""
