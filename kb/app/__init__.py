"""What the Streamlit app draws with: data derived once per index version, and safe HTML."""
