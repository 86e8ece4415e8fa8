"""kb's Streamlit app: search the weekly ML/DL news by keyword, meaning and topic; browse issues, topics and resources.

Run: `streamlit run app.py` (reads KB_INDEX_DIR, KB_CONTENT_DIR, KB_MODEL, KB_BACKEND, KB_MILVUS_URI and
KB_MILVUS_COLLECTION like the CLI). The pages live in kb/app/. The page frame is drawn before the rest of the app
is imported, so a fresh server shows it at once; the search model starts loading right after it.
"""

from kb.app.frame import draw_frame
from kb.app.warmstart import start

view = draw_frame()
start()

from kb.app.main import run  # noqa: E402 - imported after the frame is on screen (numpy, the index, topics)

run(view)
