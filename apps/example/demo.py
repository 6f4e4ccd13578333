"""A Streamlit demo wired by the catalog: one question, one answer from the environment's model."""
import os

import streamlit as st
from langchain_openai import ChatOpenAI

llm = ChatOpenAI(base_url=os.environ["OPENAI_BASE_URL"], api_key=os.environ["OPENAI_API_KEY"], model=os.environ["LLM_MODEL"])
st.title("ai-dualstack demo")
question = st.text_input("Ask the model")
if question:
    st.write(llm.invoke(question).content)
