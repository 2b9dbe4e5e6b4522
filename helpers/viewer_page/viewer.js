/* The gesture viewer: every method's skeleton beside the ground truth, in step with the speech.
 *
 * Reads the data that helpers/viewer.py embeds in <script id="viewer-data"> (its docstring
 * describes the layout), draws with three.js (window.THREE, a classic script), and offers
 * window.viewer (state(), seek(t), afterFrames(n), ...) to the browser test. The time is the
 * audio element's currentTime whenever there is audio; the frame shown of a motion at time t is
 * round(t * fps), the last one past its end.
 */
(function () {
  "use strict";

  const THREE = window.THREE;
  const DATA = JSON.parse(document.getElementById("viewer-data").textContent);
  const el = (id) => document.getElementById(id);
  const audio = el("audio");
  const canvas = el("canvas");
  const UP = new THREE.Vector3(0, 1, 0);
  const BACKGROUND = 0xf4f4f1;

  // ---------------------------------------------------------------- data

  function decodeFloats(base64) {
    const text = atob(base64);
    const bytes = new Uint8Array(text.length);
    for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
    return new Float32Array(bytes.buffer);
  }

  function positionsOf(sample) {  // (frames * joints * 3) floats, decoded on first use
    if (!sample.decoded) sample.decoded = decodeFloats(sample.positions);
    return sample.decoded;
  }

  function say(text) {
    el("message").textContent = text;
  }

  // ---------------------------------------------------------------- scene

  let renderer = null;
  try {
    renderer = new THREE.WebGLRenderer({canvas, antialias: true, preserveDrawingBuffer: true});
  } catch (error) {
    say("WebGL is not available in this browser (" + error.message + ")");
  }
  const scene = new THREE.Scene();
  scene.background = new THREE.Color(BACKGROUND);
  scene.add(new THREE.HemisphereLight(0xffffff, 0x8a8a80, 2.2));
  const sun = new THREE.DirectionalLight(0xffffff, 1.8);
  sun.position.set(0.6, 2, 1.5);
  scene.add(sun);
  const camera = new THREE.PerspectiveCamera(35, 1, 1, 1e5);
  const unitBone = new THREE.CylinderGeometry(1, 1, 1, 12);  // along y, centred
  const unitJoint = new THREE.SphereGeometry(1, 16, 10);
  const unitDisc = new THREE.CircleGeometry(1, 24).rotateX(-Math.PI / 2);  // on the floor
  const solid = new THREE.MeshLambertMaterial({color: 0xffffff});  // tinted per instance
  const gridLines = new THREE.LineBasicMaterial({color: 0xc4c4bc});
  let grid = null, file = null, panels = [], mode = "side";
  let lastTick = null, frameCount = 0, waiters = [], scrubbing = false, needsRender = true;
  const clock = {playing: false, time: 0, speed: 1, audioError: null};

  function tint(hex, side) {  // left limbs lighter, right darker: which arm is which at a glance
    const color = new THREE.Color(hex);
    if (side === 1) return color.lerp(new THREE.Color(0xffffff), 0.45);
    if (side === 2) return color.multiplyScalar(0.6);
    return color;
  }

  function textSprite(text, worldHeight, maxWidth) {
    const pad = 12, fontPx = 40;
    const ctx = document.createElement("canvas").getContext("2d");
    ctx.font = fontPx + "px system-ui, sans-serif";
    ctx.canvas.width = Math.ceil(ctx.measureText(text).width) + 2 * pad;
    ctx.canvas.height = fontPx + 2 * pad;
    ctx.font = fontPx + "px system-ui, sans-serif";
    ctx.fillStyle = "#222";
    ctx.textBaseline = "middle";
    ctx.fillText(text, pad, ctx.canvas.height / 2);
    const texture = new THREE.CanvasTexture(ctx.canvas);
    texture.colorSpace = THREE.SRGBColorSpace;
    const sprite = new THREE.Sprite(new THREE.SpriteMaterial({map: texture, depthWrite: false}));
    const aspect = ctx.canvas.width / ctx.canvas.height;
    const height = Math.min(worldHeight, maxWidth / aspect);  // long names: smaller, no overlap
    sprite.scale.set(height * aspect, height, 1);
    return sprite;
  }

  // ---------------------------------------------------------------- one method's skeleton

  class Panel {
    constructor(method, file) {
      this.method = method;
      this.file = file;
      this.group = new THREE.Group();
      this.group.name = method.name;
      this.visible = true;
      this.frame = -1;
      this.setSample(0);
    }

    get sample() {
      return this.method.samples[this.sampleIndex];
    }

    setSample(index) {
      this.sampleIndex = index;
      this.frame = -1;
      this.dispose();
      const s = this.sample, h = this.file.height, p = positionsOf(s);
      this.bones = s.bones;
      const length = (a, b) => Math.hypot(p[3 * a] - p[3 * b], p[3 * a + 1] - p[3 * b + 1],
                                          p[3 * a + 2] - p[3 * b + 2]);
      // Short bones (fingers) get thinner bones and smaller joints than the scene's scale.
      const shortest = new Array(s.joints).fill(Infinity);
      this.boneRadius = this.bones.map(([a, b]) => {
        const l = length(a, b);
        if (l > 0) shortest[a] = Math.min(shortest[a], l);
        if (l > 0) shortest[b] = Math.min(shortest[b], l);
        return Math.max(0.004 * h, Math.min(0.011 * h, 0.25 * l));
      });
      this.jointRadius = shortest.map((l) => Math.max(0.006 * h, Math.min(0.018 * h, 0.45 * l)));
      for (const j of s.hidden) this.jointRadius[j] = 0;  // a world node, not a body part
      this.boneMesh = new THREE.InstancedMesh(unitBone, solid, Math.max(1, this.bones.length));
      this.boneMesh.count = this.bones.length;
      this.jointMesh = new THREE.InstancedMesh(unitJoint, solid, s.joints);
      for (const mesh of [this.boneMesh, this.jointMesh]) mesh.frustumCulled = false;
      this.bones.forEach(([, child], k) => this.boneMesh.setColorAt(k, tint(this.method.color,
                                                                           s.side[child])));
      for (let j = 0; j < s.joints; j++) {
        this.jointMesh.setColorAt(j, tint(this.method.color, s.side[j]).multiplyScalar(0.8));
      }
      this.marker = new THREE.Mesh(unitDisc,
                                   new THREE.MeshBasicMaterial({color: this.method.color}));
      this.marker.scale.setScalar(0.025 * h);
      this.group.add(this.boneMesh, this.jointMesh, this.trajectory(), this.marker, this.label());
      needsRender = true;
    }

    trajectory() {  // the root's path over the whole motion, on the floor
      const s = this.sample, p = positionsOf(s), y = this.file.floor + 0.002 * this.file.height;
      const points = new Float32Array(3 * s.frames);
      for (let i = 0; i < s.frames; i++) {
        const o = 3 * (i * s.joints + s.root);
        points.set([p[o], y, p[o + 2]], 3 * i);
      }
      const geometry = new THREE.BufferGeometry();
      geometry.setAttribute("position", new THREE.BufferAttribute(points, 3));
      this.path = new THREE.Line(geometry, new THREE.LineBasicMaterial({color: this.method.color}));
      return this.path;
    }

    label() {
      const text = this.method.name + (this.method.notes.length ? " \u26a0" : "");
      const h = this.file.height;
      this.tag = textSprite(text, 0.06 * h, 0.95 * this.file.spacing);
      this.tag.position.set(this.sample.centre[0], this.file.body[1] + 0.06 * h,
                            this.sample.centre[1]);
      return this.tag;
    }

    dispose() {
      for (const child of [...this.group.children]) {
        this.group.remove(child);
        if (child.isLine) child.geometry.dispose();  // the other geometries are shared
        if (child.isSprite) child.material.map.dispose();
        if (child.material && child.material !== solid) child.material.dispose();
        if (child.isInstancedMesh) child.dispose();
      }
    }

    place(x, overlay) {  // x: where the panel's centre goes; each motion is centred on its root
      const [cx, cz] = this.sample.centre;
      this.slot = x;
      this.group.position.set(x - cx, 0, -cz);
      this.tag.visible = !overlay;
    }

    show(t) {
      const s = this.sample;
      const frame = Math.min(s.frames - 1, Math.max(0, Math.round(t * s.fps)));
      if (frame === this.frame) return false;
      this.frame = frame;
      const p = positionsOf(s), o = 3 * frame * s.joints;
      const at = (j) => new THREE.Vector3(p[o + 3 * j], p[o + 3 * j + 1], p[o + 3 * j + 2]);
      const matrix = new THREE.Matrix4(), turn = new THREE.Quaternion();
      for (let j = 0; j < s.joints; j++) {
        const r = this.jointRadius[j];
        matrix.compose(at(j), turn.identity(), new THREE.Vector3(r, r, r));
        this.jointMesh.setMatrixAt(j, matrix);
      }
      this.bones.forEach(([a, b], k) => {
        const start = at(a), direction = at(b).sub(start), length = direction.length();
        const r = this.boneRadius[k];
        if (length > 0) turn.setFromUnitVectors(UP, direction.clone().divideScalar(length));
        else turn.identity();
        matrix.compose(start.addScaledVector(direction, 0.5), turn,
                       new THREE.Vector3(r, length, r));
        this.boneMesh.setMatrixAt(k, matrix);
      });
      this.jointMesh.instanceMatrix.needsUpdate = true;
      this.boneMesh.instanceMatrix.needsUpdate = true;
      const root = at(s.root);
      this.marker.position.set(root.x, this.file.floor + 0.001 * this.file.height, root.z);
      return true;
    }

    drawnJoint(j) {  // the drawn joint's position in the data's coordinates
      const m = new THREE.Matrix4();
      this.jointMesh.getMatrixAt(j, m);
      return new THREE.Vector3().setFromMatrixPosition(m);
    }

    state() {
      const s = this.sample, rect = canvas.getBoundingClientRect();
      this.group.updateMatrixWorld(true);
      const screen = [];
      if (this.group.visible) {
        for (let j = 0; j < s.joints; j++) {
          if (this.jointRadius[j] === 0) {  // not drawn
            screen.push(null);
            continue;
          }
          const v = this.drawnJoint(j).applyMatrix4(this.group.matrixWorld).project(camera);
          screen.push([rect.left + (v.x + 1) / 2 * rect.width,
                       rect.top + (1 - v.y) / 2 * rect.height]);
        }
      }
      return {
        name: this.method.name, visible: this.group.visible, inScene: this.group.parent === scene,
        slot: this.slot, sample: this.sampleIndex, samples: this.method.samples.length,
        frame: this.frame, fps: s.fps, nFrames: s.frames, joints: this.jointMesh.count,
        bones: this.boneMesh.count,
        drawnRoot: this.drawnJoint(s.root).toArray(), screen, notes: this.method.notes,
      };
    }
  }

  // ---------------------------------------------------------------- camera orbit

  const orbit = {target: new THREE.Vector3(), radius: 1, azimuth: 0, elevation: 0.15};

  function applyOrbit() {
    const {target, radius, azimuth, elevation} = orbit;
    camera.position.set(target.x + radius * Math.cos(elevation) * Math.sin(azimuth),
                        target.y + radius * Math.sin(elevation),
                        target.z + radius * Math.cos(elevation) * Math.cos(azimuth));
    camera.near = radius / 100;
    camera.far = radius * 100;
    camera.updateProjectionMatrix();
    camera.lookAt(target);
    needsRender = true;
  }

  function fitView() {
    const shown = panels.filter((p) => p.visible).length || 1;
    const width = (mode === "overlay" ? 1 : shown) * file.spacing;
    const top = file.body[1] + 0.12 * file.height;  // the labels
    const tan = Math.tan(THREE.MathUtils.degToRad(camera.fov / 2));
    orbit.radius = 1.05 * Math.max((top - file.floor) / (2 * tan),
                                   width / (2 * tan * camera.aspect));
    orbit.target.set(0, (file.floor + top) / 2, 0);
    orbit.azimuth = 0;
    orbit.elevation = 0.15;
    applyOrbit();
  }

  function enableOrbit() {
    let drag = null;
    canvas.addEventListener("contextmenu", (e) => e.preventDefault());
    canvas.addEventListener("pointerdown", (e) => {
      drag = {x: e.clientX, y: e.clientY, pan: e.shiftKey || e.button === 2};
      canvas.setPointerCapture(e.pointerId);
    });
    for (const end of ["pointerup", "pointercancel"]) {
      canvas.addEventListener(end, () => { drag = null; });
    }
    canvas.addEventListener("pointermove", (e) => {
      if (!drag) return;
      const dx = e.clientX - drag.x, dy = e.clientY - drag.y;
      drag.x = e.clientX;
      drag.y = e.clientY;
      if (drag.pan) {
        const right = new THREE.Vector3().setFromMatrixColumn(camera.matrix, 0);
        const up = new THREE.Vector3().setFromMatrixColumn(camera.matrix, 1);
        const perPixel = 2 * orbit.radius * Math.tan(THREE.MathUtils.degToRad(camera.fov / 2)) /
                         canvas.clientHeight;
        orbit.target.addScaledVector(right, -dx * perPixel).addScaledVector(up, dy * perPixel);
      } else {
        orbit.azimuth -= dx * 0.006;
        orbit.elevation = Math.min(1.5, Math.max(-0.2, orbit.elevation + dy * 0.006));
      }
      applyOrbit();
    });
    canvas.addEventListener("wheel", (e) => {
      e.preventDefault();
      orbit.radius *= Math.exp(Math.sign(e.deltaY) * Math.min(Math.abs(e.deltaY), 200) * 0.001);
      applyOrbit();
    }, {passive: false});
    canvas.addEventListener("dblclick", fitView);
  }

  // ---------------------------------------------------------------- files, methods, layout

  function openFile(index) {
    pause();
    for (const p of panels) {
      p.dispose();
      scene.remove(p.group);
    }
    file = DATA.files[index];
    panels = file.methods.map((m) => new Panel(m, file));
    for (const p of panels) scene.add(p.group);
    clock.time = 0;
    clock.audioError = null;
    say("");
    if (file.audio) audio.src = file.audio;
    else audio.removeAttribute("src");
    audio.load();
    const fastest = Math.max(...file.methods.flatMap((m) => m.samples.map((s) => s.fps)));
    el("timeline").max = file.duration;
    el("timeline").step = 1 / fastest;
    methodList();
    layout();
  }

  function methodList() {
    const list = el("methods");
    list.replaceChildren();
    for (const p of panels) {
      const item = document.createElement("li");
      item.dataset.method = p.method.name;
      const label = document.createElement("label");
      const box = document.createElement("input");
      box.type = "checkbox";
      box.checked = p.visible;
      box.className = "toggle";
      box.addEventListener("change", () => { p.visible = box.checked; layout(); });
      const swatch = document.createElement("span");
      swatch.className = "swatch";
      swatch.style.background = p.method.color;
      label.append(box, swatch, p.method.name);
      item.append(label);
      if (p.method.samples.length > 1) item.append(sampleSelect(p));
      for (const note of p.method.notes) {
        const line = document.createElement("div");
        line.className = "note";
        line.textContent = "\u26a0 " + note;
        item.append(line);
      }
      list.append(item);
    }
  }

  function sampleSelect(panel) {
    const select = document.createElement("select");
    select.className = "sample";
    select.title = "sample of this method";
    panel.method.samples.forEach((s, k) => select.add(new Option("sample " + (k + 1), k)));
    select.addEventListener("change", () => {
      panel.setSample(Number(select.value));
      layout(false);
    });
    return select;
  }

  function layout(refit = true) {  // side by side: the shown panels packed left to right
    const shown = panels.filter((p) => p.visible);
    shown.forEach((p, k) => p.place(mode === "overlay" ? 0 : (k - (shown.length - 1) / 2) *
                                    file.spacing, mode === "overlay"));
    for (const p of panels) p.group.visible = p.visible;
    const width = (mode === "overlay" ? 1 : Math.max(1, shown.length)) * file.spacing;
    if (grid) {
      scene.remove(grid);
      grid.geometry.dispose();
    }
    grid = floorGrid(width + 2 * file.height, 2 * file.height, file.height / 4);
    grid.position.y = file.floor;
    scene.add(grid);
    needsRender = true;
    if (refit) fitView();
  }

  function floorGrid(width, depth, cell) {  // centred; not deeper than the camera is far
    const nx = Math.ceil(width / cell / 2), nz = Math.ceil(depth / cell / 2), points = [];
    for (let i = -nx; i <= nx; i++) points.push(i * cell, 0, -nz * cell, i * cell, 0, nz * cell);
    for (let k = -nz; k <= nz; k++) points.push(-nx * cell, 0, k * cell, nx * cell, 0, k * cell);
    const geometry = new THREE.BufferGeometry();
    geometry.setAttribute("position", new THREE.Float32BufferAttribute(points, 3));
    return new THREE.LineSegments(geometry, gridLines);
  }

  // ---------------------------------------------------------------- clock

  function usesAudio() {
    return Boolean(file && file.audio) && !clock.audioError;
  }

  function now() {
    return usesAudio() ? audio.currentTime : clock.time;
  }

  function seek(t) {
    t = Math.min(file.duration, Math.max(0, Number(t)));
    clock.time = t;
    if (usesAudio()) audio.currentTime = t;
  }

  function play() {
    if (now() >= file.duration - 1e-6) seek(0);
    clock.playing = true;
    if (usesAudio()) {
      audio.playbackRate = clock.speed;
      audio.play().catch((error) => audioFailed(error.message));
    }
    el("play").innerHTML = "&#10074;&#10074;";
  }

  function pause() {
    clock.playing = false;
    if (usesAudio()) audio.pause();
    el("play").innerHTML = "&#9654;";
  }

  function audioFailed(reason) {  // the page goes on with its own clock
    if (!usesAudio()) return;
    clock.time = audio.currentTime;
    clock.audioError = reason;
    say("the audio could not play (" + reason + "); the clock runs without it");
  }

  function tick(timestamp) {
    const dt = lastTick === null ? 0 : Math.min(0.25, (timestamp - lastTick) / 1000);
    lastTick = timestamp;
    if (clock.playing && !usesAudio()) {
      clock.time += dt * clock.speed;
      if (clock.time >= file.duration) {
        clock.time = file.duration;
        pause();
      }
    }
    draw();
    frameCount++;
    waiters = waiters.filter((w) => (frameCount >= w.at ? (w.resolve(), false) : true));
    requestAnimationFrame(tick);
  }

  function draw() {
    const t = now();
    let changed = needsRender;
    for (const p of panels) changed = p.show(t) || changed;
    if (!scrubbing) el("timeline").value = t;
    el("clock").textContent = t.toFixed(2) + " / " + file.duration.toFixed(2) + " s";
    if (renderer && changed) renderer.render(scene, camera);  // nothing new: no redraw
    needsRender = false;
  }

  function resize() {
    const box = el("view").getBoundingClientRect();
    camera.aspect = Math.max(1, box.width) / Math.max(1, box.height);
    camera.updateProjectionMatrix();
    if (renderer) {
      renderer.setPixelRatio(window.devicePixelRatio || 1);
      renderer.setSize(Math.max(1, box.width), Math.max(1, box.height), false);
    }
    needsRender = true;
  }

  // ---------------------------------------------------------------- controls

  function controls() {
    el("play").addEventListener("click", () => (clock.playing ? pause() : play()));
    const timeline = el("timeline");
    timeline.addEventListener("input", () => { scrubbing = true; seek(timeline.value); });
    timeline.addEventListener("change", () => { scrubbing = false; });
    el("speed").addEventListener("change", (e) => {
      clock.speed = Number(e.target.value);
      audio.playbackRate = clock.speed;
    });
    el("layout").addEventListener("change", (e) => { mode = e.target.value; layout(); });
    el("reset-view").addEventListener("click", fitView);
    audio.addEventListener("ended", pause);
    audio.addEventListener("error", () => file && file.audio && audioFailed("unreadable audio"));
    const select = el("file");
    DATA.files.forEach((f, k) => select.add(new Option(f.id, k)));
    el("file-row").hidden = DATA.files.length < 2;
    select.addEventListener("change", () => openFile(Number(select.value)));
    document.addEventListener("keydown", (e) => {
      if (e.target.closest("select, input:not([type=checkbox])")) return;
      const step = Number(el("timeline").step) || 1 / 30;
      if (e.key === " ") {
        e.preventDefault();
        clock.playing ? pause() : play();
      } else if (e.key === "ArrowLeft" || e.key === "ArrowRight") {
        pause();
        seek(now() + (e.key === "ArrowLeft" ? -step : step));
      }
    });
    new ResizeObserver(() => { resize(); fitView(); }).observe(el("view"));
  }

  // ---------------------------------------------------------------- the test's handle

  window.viewer = {
    state() {
      const gl = renderer && renderer.getContext();
      return {
        webgl: Boolean(gl && !gl.isContextLost()), three: THREE.REVISION, file: file.id,
        files: DATA.files.map((f) => f.id), time: now(), duration: file.duration,
        playing: clock.playing, speed: clock.speed, layout: mode,
        clock: usesAudio() ? "audio" : "internal", audioError: clock.audioError,
        message: el("message").textContent, renderedFrames: frameCount,
        canvas: (({left, top, width, height}) => [left, top, width, height])(
          canvas.getBoundingClientRect()),
        camera: {azimuth: orbit.azimuth, elevation: orbit.elevation, radius: orbit.radius,
                 target: orbit.target.toArray()},
        background: "#" + new THREE.Color(BACKGROUND).getHexString(),
        panels: panels.map((p) => p.state()),
      };
    },
    seek, play, pause, openFile, fitView, audio,
    afterFrames(n = 1) {
      return new Promise((resolve) => waiters.push({at: frameCount + n, resolve}));
    },
  };

  controls();
  enableOrbit();
  resize();
  openFile(0);
  requestAnimationFrame(tick);
})();
