"""A FastAPI + LangChain API wired by the catalog: the model endpoint comes from the environment."""
import os

from fastapi import FastAPI
from langchain_openai import ChatOpenAI
from pydantic import BaseModel

app = FastAPI(title="ai-dualstack example")
llm = ChatOpenAI(base_url=os.environ["OPENAI_BASE_URL"], api_key=os.environ["OPENAI_API_KEY"], model=os.environ["LLM_MODEL"])


class Question(BaseModel):
    question: str


@app.get("/health")
def health() -> dict:
    return {"status": "ok"}


@app.post("/ask")
def ask(q: Question) -> dict:
    return {"answer": llm.invoke(q.question).content}
