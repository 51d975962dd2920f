"""The desktop dashboard: one window (pywebview) where people see and steer their flattrs.

``figures`` (one level up) computes every number it shows; ``jsapi`` is what the page may call;
``window`` runs it; ``launch`` and ``instance`` open or focus it from the host; ``remote`` asks
Flattr in the background. The page itself (``page/``) is plain HTML, CSS and JavaScript drawing
its charts as inline SVG: nothing is loaded from the network.
"""
