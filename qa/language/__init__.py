"""Reading what people type: text normalisation, spelling, key terms, follow-ups,
message parts, and the prepared question every later stage reads."""
