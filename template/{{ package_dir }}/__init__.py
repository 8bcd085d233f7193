"""A LangGraph agent with durable memory."""
