"""Front ends: the command line, the browser chat's rendering, batch answers
and the web server's guards. Thin: they call the stages below."""
