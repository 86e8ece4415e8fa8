"""kb's Streamlit app: search the weekly ML/DL news by keyword, meaning and topic; browse issues, topics and resources.

Run: `streamlit run app.py` (reads KB_INDEX_DIR, KB_CONTENT_DIR, KB_MODEL, KB_BACKEND, KB_MILVUS_URI and
KB_MILVUS_COLLECTION like the CLI). The pages live in kb/app/ (main.py draws one page).
"""

from kb.app.main import run

run()
