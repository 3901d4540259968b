// New entries arrive over the event stream; textContent keeps source text inert.
(function(){
  var list=document.getElementById('wire');
  if(!window.EventSource||!list)return;
  var es=new EventSource('/api/stream');
  es.addEventListener('entry',function(ev){
    var e;try{e=JSON.parse(ev.data)}catch(_){return}
    var li=document.createElement('li');
    var t=document.createElement('span');t.className='t';t.textContent=(e.published_at||'').substr(11,5)+'Z';
    var c=document.createElement('span');c.className='c';c.textContent=(e.source&&e.source.code)||'';
    var h;
    if(e.url&&/^https?:\/\//.test(e.url)){h=document.createElement('a');h.href=e.url;h.rel='nofollow noopener'}else{h=document.createElement('span')}
    h.textContent=e.headline||'';
    li.appendChild(t);li.appendChild(c);li.appendChild(h);
    list.insertBefore(li,list.firstChild);
    while(list.children.length>200)list.removeChild(list.lastChild);
  });
})();
