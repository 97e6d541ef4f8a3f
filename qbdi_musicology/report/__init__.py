"""Tables, figures and HTML/Markdown reports. The only place that plots."""
