// Live stories: a story's new version moves it to the top with its new
// counts (recent activity is half of the rank). textContent keeps source
// text inert.
(function(){
  var list=document.getElementById('stories');
  if(!window.EventSource||!list)return;
  var active=list.dataset.active==='true';
  function plural(n,one,many){return n+' '+(n===1?one:many)}
  var es=new EventSource('/api/v1/stream?events=story');
  es.addEventListener('story',function(ev){
    var st;try{st=JSON.parse(ev.data)}catch(_){return}
    if(!st.id)return;
    var old=list.querySelector('li[data-id="'+CSS.escape(st.id)+'"]');
    if(old)old.remove();
    if(st.status==='merged'||(active&&st.status!=='developing'))return;
    var li=document.createElement('li');li.dataset.id=st.id;
    var a=document.createElement('a');a.href='/stories/'+encodeURIComponent(st.id);a.textContent=st.headline||st.id;
    var n=document.createElement('span');n.className='n';
    var c=st.counts||{};
    n.textContent=plural(c.entries||0,'entry','entries')+' from '+plural(c.sources||0,'source','sources')+', '+(c.origins||0)+' independent · '+st.status+' · updated '+(st.last_updated||'').substr(0,16).replace('T',' ')+'Z';
    li.appendChild(a);li.appendChild(document.createElement('br'));li.appendChild(n);
    list.insertBefore(li,list.firstChild);
    while(list.children.length>100)list.removeChild(list.lastChild);
  });
})();
